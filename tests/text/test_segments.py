from narrator.model import Book, Chapter
from narrator.text.segments import plan, spoken_title


def book(*chapters):
    return Book("T", None, tuple(Chapter(title, tuple(paras)) for title, paras in chapters))


def test_each_chapter_ends_a_segment_and_titles_are_spoken():
    segments = plan(book(("One", ["a" * 50, "b" * 50]), ("Two", ["c" * 50])), max_chars=1000)
    assert [s.paragraphs for s in segments] == [("One.", "a" * 50, "b" * 50), ("Two.", "c" * 50)]
    assert all(s.ends_chapter for s in segments) and [s.chapter for s in segments] == [0, 1]


def test_long_chapters_are_cut_at_paragraph_boundaries():
    paragraphs = [f"Paragraph {i}. " + "word " * 40 for i in range(30)]
    segments = plan(book(("Only", paragraphs)), speak_titles=False)
    assert len(segments) >= 4
    assert [p for s in segments for p in s.paragraphs] == paragraphs
    assert [s.ends_chapter for s in segments] == [False] * (len(segments) - 1) + [True]
    assert [s.index for s in segments] == list(range(len(segments)))


def test_a_paragraph_longer_than_the_limit_stays_whole():
    segments = plan(book(("X", ["z" * 3000, "y"])), max_chars=500, speak_titles=False)
    assert segments[0].paragraphs == ("z" * 3000,)


def test_spoken_title_gets_a_stop_only_when_it_has_none():
    assert spoken_title("Chapter 1") == "Chapter 1." and spoken_title("Why?") == "Why?"


def test_cuts_depend_neither_on_concurrency_nor_on_an_edit_elsewhere():
    # A segment's text is its cache key: one edited paragraph must change one segment.
    chapters = [(f"Chapter {c}", [f"Paragraph {c}.{i} " + "word " * (20 + (i * 7) % 60) for i in range(40)])
                for c in range(3)]
    before = [s.text for s in plan(book(*chapters))]
    edited = [(title, list(paras)) for title, paras in chapters]
    edited[1][1][17] = edited[1][1][17].replace("word", "verb", 1)
    after = [s.text for s in plan(book(*edited))]
    assert len(before) == len(after) > 8
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(changed) == 1 and "Paragraph 1.17 verb" in after[changed[0]]
