"""Readers: bytes and strings in, Book out. Pure: no mocks, only the samples on disk."""

from __future__ import annotations

import pathlib

import pytest

from narrator.errors import DocumentError
from narrator.model import Book, Chapter
from narrator.text import decode_text, read_document
from narrator.text.markdown import parse_markdown
from narrator.text.plain import is_chapter_heading, parse_text, title_from_name

SAMPLES = pathlib.Path(__file__).resolve().parents[2] / "samples"
MARKUP = ("#", "**", "](", "![", "[^", "<", "|---")


def paragraphs(book: Book) -> list[str]:
    return [p for chapter in book.chapters for p in chapter.paragraphs]


def md_paragraphs(source: str) -> list[str]:
    return paragraphs(parse_markdown(source, "doc.md"))


def assert_clean(book: Book) -> None:
    """The invariants every parser output must satisfy."""
    assert book.chapters
    for chapter in book.chapters:
        assert chapter.title and chapter.title == chapter.title.strip()
        assert chapter.paragraphs
        for p in chapter.paragraphs:
            assert p and p == p.strip() and "\n" not in p and "  " not in p


# --- decode_text ----------------------------------------------------------


class TestDecode:
    def test_plain_utf8(self):
        assert decode_text("café – naïve".encode(), "a.txt") == "café – naïve"

    def test_bom_is_stripped(self):
        assert decode_text(b"\xef\xbb\xbfHello", "a.txt") == "Hello"

    def test_crlf_and_cr_become_lf(self):
        assert decode_text(b"a\r\nb\rc\nd\r\n\r\ne", "a.txt") == "a\nb\nc\nd\n\ne"

    def test_bom_and_crlf_together(self):
        assert decode_text(b"\xef\xbb\xbfone\r\ntwo", "a.txt") == "one\ntwo"

    def test_empty_is_empty(self):
        assert decode_text(b"", "a.txt") == ""

    def test_form_feed_becomes_line_break(self):
        assert decode_text(b"page one\x0cpage two", "a.txt") == "page one\npage two"

    def test_stray_control_characters_are_removed(self):
        text = b"A bell\x07 rang" + b" and the story went on" * 5
        assert decode_text(text, "a.txt").startswith("A bell rang and")

    def test_nul_bytes_mean_binary(self):
        with pytest.raises(DocumentError) as info:
            decode_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "cover.txt")
        message = str(info.value)
        assert message.startswith("cover.txt: ")
        assert "binary" in message and "UTF-8" in message and "\n" not in message

    def test_control_heavy_means_binary(self):
        with pytest.raises(DocumentError, match=r"blob\.txt: looks like a binary file"):
            decode_text(bytes(range(1, 32)) * 4 + b"some text", "blob.txt")

    def test_utf16_is_named(self):
        with pytest.raises(DocumentError, match=r"w\.txt: .*UTF-16.*save it as UTF-8"):
            decode_text("hello".encode("utf-16"), "w.txt")

    def test_bad_utf8_reports_offset_and_line(self):
        data = b"first line\nsecond caf\xe9 line\n"
        with pytest.raises(DocumentError) as info:
            decode_text(data, "latin.txt")
        message = str(info.value)
        assert message == (
            "latin.txt: not valid UTF-8 at byte 21 (line 2, byte 0xe9); "
            "save it as UTF-8 text and try again"
        )
        assert data[21] == 0xE9

    def test_bad_utf8_offset_counts_the_bom(self):
        with pytest.raises(DocumentError, match=r"at byte 5 \(line 1,"):
            decode_text(b"\xef\xbb\xbfab\xff", "x.md")

    def test_bad_utf8_line_counts_cr_endings(self):
        with pytest.raises(DocumentError, match=r"\(line 3,"):
            decode_text(b"a\rb\r\nc\xc3", "x.md")


# --- parse_text: paragraphs ----------------------------------------------


class TestTextParagraphs:
    def test_blank_lines_separate_and_lines_join_with_spaces(self):
        book = parse_text("One line\nwrapped  here.\n\n\n  Second\tpara.  \n", "a.txt")
        assert paragraphs(book) == ["One line wrapped here.", "Second para."]

    def test_whitespace_only_lines_are_blank(self):
        assert paragraphs(parse_text("a.\n   \t\nb.", "a.txt")) == ["a.", "b."]

    def test_punctuation_is_kept_exactly(self):
        text = '"Is it?" she asked — quietly; then: "No…"'
        assert paragraphs(parse_text(text, "a.txt")) == [text]

    def test_symbol_only_paragraphs_are_dropped(self):
        book = parse_text("Before.\n\n* * *\n\nAfter.", "a.txt")
        assert paragraphs(book) == ["Before.", "After."]

    def test_no_headings_is_one_chapter_named_after_the_file(self):
        book = parse_text("Just some prose.", "my_first-book.txt")
        assert book == Book(
            title="My First Book",
            author=None,
            chapters=(Chapter("My First Book", ("Just some prose.",)),),
        )

    def test_output_is_clean(self):
        assert_clean(parse_text("Chapter 1\n\n a \n b \n\n\n\nc\r", "a.txt"))


# --- parse_text: headings -------------------------------------------------

HEADINGS = [
    "Chapter 7",
    "CHAPTER VII",
    "chapter xiv",
    "Chapter Seven",
    "Chapter Seventeen",
    "Chapter Twenty",
    "Chapter Twenty-One",
    "Chapter twenty one",
    "Chapter First",
    "Chapter Twelfth",
    "Chapter 7: The Road",
    "Chapter 7 - The Road",
    "Chapter 7 — The Road",
    "Chapter 3.",
    "Part Two",
    "PART 2. Beginnings",
    "Part III",
    "Book One",
    "Prologue",
    "EPILOGUE",
    "Epilogue: Ten Years Later",
    "Preface",
]
NOT_HEADINGS = [
    "Chapter 7 was the best part of the book.",
    "Part of me wanted to stay.",
    "Chapter and verse, he said.",
    "Chapter mild",
    "The Prologue was long.",
    "Prologue and epilogue",
    "Chapter",
    "Chapter 7: " + "very long " * 12,
]


@pytest.mark.parametrize("line", HEADINGS)
def test_heading_forms(line):
    assert is_chapter_heading(line)
    book = parse_text(f"{line}\n\nSome prose.", "a.txt")
    assert book.chapters == (Chapter(line, ("Some prose.",)),)


@pytest.mark.parametrize("line", NOT_HEADINGS)
def test_non_headings(line):
    assert not is_chapter_heading(line)


class TestTextChapters:
    def test_chapters_split_at_standalone_headings(self):
        text = "Chapter 1\n\nFirst, one.\n\nFirst, two.\n\nChapter 2: Later\n\nSecond."
        book = parse_text(text, "tale.txt")
        assert book.title == "Tale"
        assert book.author is None
        assert book.chapters == (
            Chapter("Chapter 1", ("First, one.", "First, two.")),
            Chapter("Chapter 2: Later", ("Second.",)),
        )

    def test_heading_words_inside_a_paragraph_do_not_split(self):
        text = "Chapter 1\n\nWe read on.\nChapter 7 was the best part of the book.\n"
        book = parse_text(text, "a.txt")
        assert book.chapters == (
            Chapter("Chapter 1", ("We read on. Chapter 7 was the best part of the book.",)),
        )

    def test_heading_line_inside_a_paragraph_does_not_split(self):
        book = parse_text("Chapter 1\n\nIt ended.\nChapter 2\nNo split here.", "a.txt")
        assert [c.title for c in book.chapters] == ["Chapter 1"]
        assert paragraphs(book) == ["It ended. Chapter 2 No split here."]

    def test_heading_whitespace_is_collapsed(self):
        book = parse_text("   Chapter    7:   The   Road  \n\nText.", "a.txt")
        assert book.chapters[0].title == "Chapter 7: The Road"

    def test_untitled_preface_takes_the_book_title(self):
        text = "A note before we begin.\n\nPrologue\n\nIt was dark.\n\nChapter 1\n\nIt got light."
        book = parse_text(text, "the-dark.txt")
        assert book.chapters == (
            Chapter("The Dark", ("A note before we begin.",)),
            Chapter("Prologue", ("It was dark.",)),
            Chapter("Chapter 1", ("It got light.",)),
        )

    def test_blank_preface_is_not_a_chapter(self):
        book = parse_text("\n\n   \n\nChapter 1\n\nText.", "a.txt")
        assert [c.title for c in book.chapters] == ["Chapter 1"]

    def test_title_only_chapters_are_dropped(self):
        text = "Part One\n\nChapter 1\n\nText.\n\nChapter 2\n\nChapter 3\n\nMore."
        book = parse_text(text, "a.txt")
        assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 3"]

    def test_chapter_titles_are_not_paragraphs(self):
        book = parse_text("Chapter 1\n\nText.", "a.txt")
        assert "Chapter 1" not in paragraphs(book)

    def test_no_prose_error_lists_what_was_found(self):
        with pytest.raises(DocumentError) as info:
            parse_text("Chapter 1\n\nChapter 2\n\n* * *\n", "empty.txt")
        assert str(info.value) == (
            "empty.txt: no prose to narrate "
            "(found 2 chapter headings and 1 wordless paragraph, but no paragraphs)"
        )

    @pytest.mark.parametrize("text", ["", "\n\n  \n\t\n"])
    def test_empty_document_error(self, text):
        expected = r"^blank\.txt: no prose to narrate \(the document is empty\)$"
        with pytest.raises(DocumentError, match=expected):
            parse_text(text, "blank.txt")


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("my_first-book.txt", "My First Book"),
        ("the-clockmaker.txt", "The Clockmaker"),
        ("NASA_report.md", "NASA Report"),
        ("dir/sub/notes.markdown", "Notes"),
        ("a  b.txt", "A B"),
        ("___.txt", "Untitled"),
    ],
)
def test_title_from_name(name, title):
    assert title_from_name(name) == title


# --- parse_markdown: markup -----------------------------------------------


class TestMarkdownInline:
    def test_emphasis_markers_are_not_spoken(self):
        source = "Some *em*, _em_, **strong**, __strong__ and ~~gone~~ words."
        assert md_paragraphs(source) == ["Some em, em, strong, strong and gone words."]

    def test_link_text_kept_target_dropped(self):
        source = 'Read [the gazette](https://example.org/g "Gazette") today.'
        assert md_paragraphs(source) == ["Read the gazette today."]

    def test_reference_links(self):
        source = "See [the docs][ref] now.\n\n[ref]: https://example.org"
        assert md_paragraphs(source) == ["See the docs now."]

    def test_images_are_dropped_entirely(self):
        source = "Look at the map ![a map of the bay](map.png). Then go."
        assert md_paragraphs(source) == ["Look at the map. Then go."]

    def test_image_only_paragraph_disappears(self):
        assert md_paragraphs("Before.\n\n![cover art](c.png)\n\nAfter.") == ["Before.", "After."]

    def test_inline_code_text_is_kept(self):
        assert md_paragraphs("Type `ls -la` and press enter.") == ["Type ls -la and press enter."]

    def test_inline_html_tags_dropped_text_kept(self):
        source = "An <em>important</em> and <span class='x'>plain</span> word.<!-- note -->"
        assert md_paragraphs(source) == ["An important and plain word."]

    def test_br_tag_separates_words(self):
        assert md_paragraphs("one<br>two<br />three") == ["one two three"]

    def test_entities_and_escapes_are_decoded(self):
        source = "Fish &amp; chips, 3 &lt; 4, caf&eacute;, \\*not em\\*."
        assert md_paragraphs(source) == ["Fish & chips, 3 < 4, café, *not em*."]

    def test_soft_and_hard_breaks_become_spaces(self):
        assert md_paragraphs("one\ntwo  \nthree\\\nfour") == ["one two three four"]

    def test_footnote_references_and_definitions_removed(self):
        source = "It was wrong.[^1] Often[^note] so.\n\n[^1]: A footnote.\n\n[^note]: Another."
        assert md_paragraphs(source) == ["It was wrong. Often so."]

    def test_multi_paragraph_footnote_definition_is_dropped(self):
        source = "Text.[^a]\n\n[^a]: First.\n\n    Second footnote paragraph.\n\nAfter."
        assert md_paragraphs(source) == ["Text.", "After."]

    def test_whitespace_is_collapsed_and_punctuation_kept(self):
        source = "  Well,   is it   *really*  so?\u00a0Yes!  "
        assert md_paragraphs(source) == ["Well, is it really so? Yes!"]


class TestMarkdownBlocks:
    def test_fenced_and_indented_code_blocks_dropped(self):
        source = "Before.\n\n```python\nprint('hi')\n```\n\n    indented code\n\nAfter."
        assert md_paragraphs(source) == ["Before.", "After."]

    def test_html_blocks_dropped(self):
        source = "Before.\n\n<div class=\"note\">\nHidden words.\n</div>\n\nAfter."
        assert md_paragraphs(source) == ["Before.", "After."]

    def test_horizontal_rules_dropped(self):
        assert md_paragraphs("Before.\n\n---\n\n***\n\nAfter.") == ["Before.", "After."]

    def test_list_items_are_paragraphs_punctuation_as_written(self):
        source = "Pack these:\n\n- a lamp.\n- some *oil*\n- a coat;\n\n1. First step.\n2. Second step"
        assert md_paragraphs(source) == [
            "Pack these:",
            "a lamp.",
            "some oil",
            "a coat;",
            "First step.",
            "Second step",
        ]

    def test_nested_and_loose_lists(self):
        source = "- outer\n  - inner one\n  - inner two\n\n- loose item\n\n  with a second paragraph"
        assert md_paragraphs(source) == [
            "outer",
            "inner one",
            "inner two",
            "loose item",
            "with a second paragraph",
        ]

    def test_blockquote_text_is_kept(self):
        source = "> A quoted line\n> that wraps.\n>\n> Another quoted paragraph."
        assert md_paragraphs(source) == ["A quoted line that wraps.", "Another quoted paragraph."]

    def test_table_rows_become_paragraphs(self):
        source = (
            "| Name | Role |\n|---|:---:|\n| Ada | *keeper* |\n| Tom | [boy](x) |\n| | |\n"
        )
        assert md_paragraphs(source) == ["Name, Role", "Ada, keeper", "Tom, boy"]

    def test_table_cells_that_are_empty_are_skipped(self):
        assert md_paragraphs("| a | b | c |\n|---|---|---|\n| 1 |  | 3 |\n") == ["a, b, c", "1, 3"]

    def test_paragraphs_are_clean(self):
        source = "Para\none.\n\n\n> q\n\n- i\n\n| x |\n|---|\n| y |\n"
        assert_clean(parse_markdown(source, "doc.md"))


# --- parse_markdown: structure --------------------------------------------


class TestMarkdownStructure:
    def test_no_headings_is_one_chapter_named_after_the_file(self):
        book = parse_markdown("Hello there.\n\nGoodbye.", "short_note.md")
        assert book == Book(
            "Short Note", None, (Chapter("Short Note", ("Hello there.", "Goodbye.")),)
        )

    def test_title_h1_then_h2_chapters(self):
        source = "# The Book\n\n## One\n\nFirst.\n\n## Two\n\nSecond."
        book = parse_markdown(source, "file.md")
        assert book.title == "The Book"
        assert book.chapters == (Chapter("One", ("First.",)), Chapter("Two", ("Second.",)))

    def test_title_h1_with_h3_chapters(self):
        source = "# The Book\n\n### One\n\nFirst.\n\n### Two\n\nSecond."
        book = parse_markdown(source, "file.md")
        assert book.title == "The Book"
        assert [c.title for c in book.chapters] == ["One", "Two"]

    def test_setext_headings_count(self):
        source = "The Book\n========\n\nOne\n---\n\nFirst."
        book = parse_markdown(source, "file.md")
        assert book.title == "The Book"
        assert book.chapters == (Chapter("One", ("First.",)),)

    def test_prose_under_title_h1_is_a_preface_titled_like_the_book(self):
        source = "# The Book\n\nA foreword.\n\n## One\n\nFirst."
        book = parse_markdown(source, "file.md")
        assert book.chapters == (
            Chapter("The Book", ("A foreword.",)),
            Chapter("One", ("First.",)),
        )

    def test_single_h1_without_lower_headings_is_the_chapter(self):
        book = parse_markdown("# Only\n\nText.", "my-notes.md")
        assert book.title == "My Notes"
        assert book.chapters == (Chapter("Only", ("Text.",)),)

    def test_h1_after_prose_is_not_a_title(self):
        source = "Opening words.\n\n# Part\n\n## One\n\nFirst."
        book = parse_markdown(source, "story.md")
        assert book.title == "Story"
        assert book.chapters == (
            Chapter("Story", ("Opening words.",)),
            Chapter("Part", ("One", "First.")),
        )

    def test_several_h1s_are_chapters_and_h2s_are_spoken(self):
        source = "# One\n\n## The Storm\n\nRain.\n\n# Two\n\nSun."
        book = parse_markdown(source, "a.md")
        assert book.title == "A"
        assert book.chapters == (
            Chapter("One", ("The Storm", "Rain.")),
            Chapter("Two", ("Sun.",)),
        )

    def test_deeper_headings_are_their_own_paragraph(self):
        source = "# T\n\n## Ch\n\nIntro.\n\n### The *Storm*\n\nIt rained.\n\n#### Aftermath\n\nCalm."
        book = parse_markdown(source, "a.md")
        spoken = ("Intro.", "The Storm", "It rained.", "Aftermath", "Calm.")
        assert book.chapters == (Chapter("Ch", spoken),)

    def test_top_level_is_the_highest_heading_present(self):
        source = "## One\n\nFirst.\n\n### Sub\n\nMore.\n\n## Two\n\nSecond."
        book = parse_markdown(source, "a.md")
        assert [c.title for c in book.chapters] == ["One", "Two"]
        assert book.chapters[0].paragraphs == ("First.", "Sub", "More.")

    def test_heading_inside_blockquote_is_spoken_not_a_chapter(self):
        book = parse_markdown("## One\n\n> # Quoted\n> text\n\nAfter.", "a.md")
        assert book.chapters == (Chapter("One", ("Quoted", "text", "After.")),)

    def test_titles_are_plain_text(self):
        source = "# The *Last* [Light](x)\n\n## Chapter `one` ![i](i.png)\n\nText."
        book = parse_markdown(source, "a.md")
        assert book.title == "The Last Light"
        assert book.chapters[0].title == "Chapter one"

    def test_title_only_and_empty_chapters_are_dropped(self):
        source = "# B\n\n## Empty\n\n## Code only\n\n```\nx = 1\n```\n\n## Real\n\nProse."
        book = parse_markdown(source, "a.md")
        assert book.chapters == (Chapter("Real", ("Prose.",)),)

    def test_chapter_with_only_subheadings_is_dropped(self):
        source = "## One\n\n### Just a label\n\n## Two\n\nProse."
        assert [c.title for c in parse_markdown(source, "a.md").chapters] == ["Two"]

    def test_no_prose_error_lists_what_was_found(self):
        source = "# T\n\n## A\n\n```\ncode\n```\n\n![i](i.png)\n\n<div>x</div>\n"
        with pytest.raises(DocumentError) as info:
            parse_markdown(source, "bare.md")
        assert str(info.value) == (
            "bare.md: no prose to narrate "
            "(found 2 headings, 1 code block, 1 image and 1 HTML block, but no paragraphs)"
        )

    def test_empty_markdown_error(self):
        expected = r"^e\.md: no prose to narrate \(the document is empty\)$"
        with pytest.raises(DocumentError, match=expected):
            parse_markdown("\n\n", "e.md")

    def test_front_matter_only_error(self):
        with pytest.raises(DocumentError, match=r"found 1 front matter block, but no paragraphs"):
            parse_markdown("---\ntitle: T\n---\n", "fm.md")


class TestFrontMatter:
    def test_title_and_author(self):
        source = "---\ntitle: The Real Title\nauthor: A. Writer\ndate: 2024\n---\n\nText."
        book = parse_markdown(source, "file.md")
        assert (book.title, book.author) == ("The Real Title", "A. Writer")
        assert book.chapters == (Chapter("File", ("Text.",)),)

    def test_front_matter_beats_title_h1(self):
        source = "---\ntitle: 'From: Front Matter'\n---\n# From H1\n\n## One\n\nText."
        book = parse_markdown(source, "file.md")
        assert book.title == "From: Front Matter"
        assert [c.title for c in book.chapters] == ["One"]

    def test_quoted_and_case_insensitive_keys(self):
        book = parse_markdown('---\nTitle:  "Quoted"\nAUTHOR: Someone  Else\n---\nText.', "f.md")
        assert (book.title, book.author) == ("Quoted", "Someone Else")

    def test_missing_or_empty_keys_fall_back(self):
        book = parse_markdown("---\ntitle:\ntags: [a, b]\n---\n# H\n\n## C\n\nText.", "f.md")
        assert (book.title, book.author) == ("H", None)

    def test_front_matter_is_not_spoken(self):
        assert md_paragraphs("---\ntitle: T\nauthor: A\n---\n\nBody.") == ["Body."]


# --- read_document --------------------------------------------------------


class TestReadDocument:
    def test_dispatch_by_suffix(self, tmp_path):
        text = "# Heading\n\nBody *text*."
        for suffix in (".md", ".markdown", ".MD"):
            path = tmp_path / f"doc{suffix}"
            path.write_text(text, encoding="utf-8")
            assert paragraphs(read_document(path)) == ["Body text."]
        for suffix in (".txt", ".text"):
            path = tmp_path / f"doc{suffix}"
            path.write_text(text, encoding="utf-8")
            assert paragraphs(read_document(path)) == ["# Heading", "Body *text*."]

    def test_bytes_are_decoded(self, tmp_path):
        path = tmp_path / "win.txt"
        path.write_bytes(b"\xef\xbb\xbfChapter 1\r\n\r\nOne\r\ntwo.\r\n")
        assert read_document(path).chapters == (Chapter("Chapter 1", ("One two.",)),)

    def test_unsupported_suffix(self, tmp_path):
        with pytest.raises(DocumentError) as info:
            read_document(tmp_path / "book.docx")
        assert str(info.value) == (
            "book.docx: unsupported document type ('.docx'); "
            "supported: .txt, .text, .md, .markdown, .html, .htm, .xhtml, .epub"
        )

    def test_no_suffix(self, tmp_path):
        with pytest.raises(DocumentError, match=r"\(no suffix\); supported: \.txt"):
            read_document(tmp_path / "README")

    def test_missing_file(self, tmp_path):
        with pytest.raises(DocumentError, match="no such file"):
            read_document(tmp_path / "absent.md")

    def test_binary_file(self, tmp_path):
        path = tmp_path / "image.md"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
        with pytest.raises(DocumentError, match=r"^image\.md: looks like a binary file"):
            read_document(path)


class TestSamples:
    def test_lighthouse(self):
        book = read_document(SAMPLES / "lighthouse.md")
        assert book.title == "The Last Light on Gannet Rock"
        assert book.author == "Mara Quill"
        assert [c.title for c in book.chapters] == ["The Keeper", "The Storm", "The Morning"]
        first = book.chapters[0].paragraphs
        assert "Light the lamp before the sun touched the water." in first
        assert any("shone like still water." in p for p in first)
        assert not any("tower" in p and "grey rock" in p for p in first)  # image alt text
        storm = book.chapters[1].paragraphs
        assert storm[0].startswith(
            "The storm arrived on a Tuesday, two days earlier than the almanac had promised. By"
        )
        assert not any("gift from her father" in p for p in paragraphs(book))
        assert book.chapters[2].paragraphs[-1].endswith(
            "read about the storm in the harbour gazette, but that line was the only record"
            " she ever cared to keep."
        )

    def test_clockmaker(self):
        book = read_document(SAMPLES / "the-clockmaker.txt")
        assert book.title == "The Clockmaker"
        assert book.author is None
        assert [c.title for c in book.chapters] == ["Chapter 1", "Chapter 2", "Chapter 3"]
        assert any("in which Chapter 7 was always" in p for p in book.chapters[1].paragraphs)

    def test_short_note(self):
        book = read_document(SAMPLES / "short-note.md")
        assert book.title == "Short Note"
        assert [c.title for c in book.chapters] == ["Short Note"]
        assert len(book.chapters[0].paragraphs) == 2

    @pytest.mark.parametrize("name", ["lighthouse.md", "the-clockmaker.txt", "short-note.md"])
    def test_no_markup_is_spoken(self, name):
        book = read_document(SAMPLES / name)
        assert_clean(book)
        spoken = [book.title, *(c.title for c in book.chapters), *paragraphs(book)]
        for text in spoken:
            for marker in MARKUP:
                assert marker not in text, (marker, text)
        assert not any(text.startswith(("*", "_")) or text.endswith(("*", "_")) for text in spoken)

    @pytest.mark.parametrize(
        ("name", "low", "high"),
        [("lighthouse.md", 120, 200), ("the-clockmaker.txt", 100, 150), ("short-note.md", 40, 90)],
    )
    def test_sample_chapter_lengths(self, name, low, high):
        for chapter in read_document(SAMPLES / name).chapters:
            words = sum(len(p.split()) for p in chapter.paragraphs)
            assert low <= words <= high, (chapter.title, words)


# --- large documents are parsed in parts -----------------------------------


def _big_markdown(chapters: int, extra: str = "") -> str:
    body = "".join(
        f"## Chapter {c}\n\nA sentence of chapter {c}, with *emphasis* and a [link](http://x).\n\n"
        + "Filler prose goes on here, quietly. " * 300 + "\n\n"
        + "```\n# not a heading, in a fence\n```\n\n"
        for c in range(chapters)
    )
    return "---\ntitle: Big\n---\n\n" + body + extra


def test_a_large_document_reads_the_same_in_parts():
    from narrator.text import markdown as md

    text = _big_markdown(12)
    assert len(list(md._parts(text))) > 1
    whole_parser_book = md.parse_markdown(text, "big.md")
    original = md._PART_CHARS
    try:
        md._PART_CHARS = 10**9  # one part: the reference result
        assert md.parse_markdown(text, "big.md") == whole_parser_book
    finally:
        md._PART_CHARS = original
    assert whole_parser_book.title == "Big" and len(whole_parser_book.chapters) == 12
    assert all("not a heading" not in p for c in whole_parser_book.chapters for p in c.paragraphs)


def test_definitions_keep_a_large_document_whole():
    from narrator.text import markdown as md

    text = _big_markdown(12, "\n[link]: http://example.com\n")
    assert len(list(md._parts(text))) == 1
