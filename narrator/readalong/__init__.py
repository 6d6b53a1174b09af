"""Read-along EPUB 3 books: the text highlighted, sentence by sentence or
word by word, as the narration plays (Media Overlays)."""

GRANULARITIES = ("sentence", "word")  # what one highlight holds
