"""A planned book counts characters as the wire carries them: one count for
budgets, reports, estimates and quota checks."""

from __future__ import annotations

from narrator.protocol import elevenlabs, elevenlabs_dialect, sarvam
from narrator.runner import plan_book
from narrator.settings import NarrateOptions
from tests.helpers import generated_book

BOOK = generated_book(40, chapters=2, seed=9)


def test_elevenlabs_counts_the_space_that_ends_each_segments_message(tmp_path):
    planned = plan_book(BOOK, NarrateOptions(tmp_path, provider="elevenlabs"))
    dialect = elevenlabs_dialect.dialect("wss://api.elevenlabs.io", elevenlabs.StreamSettings(), None)
    assert planned.sent == [dialect.sent_characters(s.text) for s in planned.segments]
    assert planned.sent == [len(s.text) + 1 for s in planned.segments]
    assert planned.characters == sum(planned.sent)
    assert planned.characters_of(planned.segments[:2]) == planned.sent[0] + planned.sent[1]


def test_sarvam_counts_the_pieces_its_messages_carry(tmp_path):
    planned = plan_book(BOOK, NarrateOptions(tmp_path, provider="sarvam"))
    pieces = [sum(len(piece) for paragraph in sarvam.paragraphs(s.text)
                  for piece in sarvam.split_text(paragraph)) for s in planned.segments]
    assert planned.sent == pieces
    # The paragraph breaks between a segment's paragraphs are not sent.
    assert planned.characters < sum(len(s.text) for s in planned.segments)


def test_a_paragraph_longer_than_a_segment_is_cut_at_sentence_ends_the_same_way_every_time():
    from narrator.model import Book, Chapter
    from narrator.text.segments import plan

    sentences = [f"Sentence {n} of the long paragraph goes on, and on, until it stops." for n in range(60)]
    paragraph = " ".join(sentences)
    book = Book("B", None, (Chapter("One", ("Before.", paragraph, "After.")),))
    segments = plan(book, max_chars=600)
    assert len(segments) > 5 and all(len(s.text) <= 600 for s in segments)
    pieces = [(p, end) for s in segments
              for p, end in zip(s.paragraphs, s.ends or (True,) * len(s.paragraphs))]
    assert " ".join(p for p, _ in pieces).split() == ("One. Before. " + paragraph + " After.").split()
    assert all(p.endswith("stops.") for p, _ in pieces[2:-1])  # at sentence ends
    assert [end for _, end in pieces] == [True, True] + [False] * (len(pieces) - 4) + [True, True]
    assert plan(book, max_chars=600) == segments  # the same text gives the same cuts
    one_sentence = Book("B", None, (Chapter("One", (", ".join(["a clause of words"] * 80) + ".",)),))
    assert all(len(s.text) <= 600 for s in plan(one_sentence, max_chars=600))  # at clause ends
