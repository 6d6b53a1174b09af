"""--chapters specs and the chapter listing."""

from __future__ import annotations

import pytest

from narrator.errors import ConfigError, DocumentError
from narrator.model import Book, Chapter
from narrator.text import chapter_listing, read_document, select_chapters
from narrator.text.select import parse_chapter_spec
from tests.text.epub_builder import write_epub


def book_of(count: int, matter: dict[int, str] | None = None) -> Book:
    """Chapters "C1".."Cn"; `matter` marks some (1-based) as front or back matter."""
    matter = matter or {}
    return Book("B", None, tuple(
        Chapter(f"C{n}", (f"Words of chapter {n}.",), matter.get(n)) for n in range(1, count + 1)))


def titles(book: Book) -> list[str]:
    return [chapter.title for chapter in book.chapters]


class TestDefault:
    def test_none_drops_matter(self):
        book = book_of(5, {1: "cover", 2: "toc", 5: "index"})
        selected = select_chapters(book, None)
        assert titles(selected) == ["C3", "C4"]
        assert (selected.title, selected.author) == (book.title, book.author)

    def test_none_keeps_everything_when_nothing_is_matter(self):
        assert titles(select_chapters(book_of(3), None)) == ["C1", "C2", "C3"]

    def test_only_matter_is_a_document_error(self):
        with pytest.raises(DocumentError) as info:
            select_chapters(book_of(2, {1: "cover", 2: "toc"}), None)
        message = str(info.value)
        assert "every chapter is front or back matter (cover, toc)" in message
        assert "--chapters" in message and "narrator chapters BOOK" in message and "\n" not in message


class TestSpecs:
    @pytest.mark.parametrize("spec, expected", [
        ("5", [5]),
        ("3-7", [3, 4, 5, 6, 7]),
        ("1,3,9-", [1, 3, 9, 10]),
        ("-4", [1, 2, 3, 4]),
        (" 2 , 4 - 5 ", [2, 4, 5]),
        ("7,2,2-3", [2, 3, 7]),  # book order, each once
        ("10", [10]),
        ("1-10", list(range(1, 11))),
    ])
    def test_valid(self, spec, expected):
        assert parse_chapter_spec(spec, 10) == expected

    def test_numbers_count_matter_so_it_can_be_picked(self):
        book = book_of(4, {1: "cover"})
        selected = select_chapters(book, "1,3")
        assert titles(selected) == ["C1", "C3"]
        assert selected.chapters[0].matter == "cover"

    @pytest.mark.parametrize("spec, part, problem", [
        ("", "", "is not a chapter number or range"),
        ("3,,4", "", "is not a chapter number or range"),
        ("x", "x", "is not a chapter number or range"),
        ("-", "-", "is not a chapter number or range"),
        ("1-2-3", "1-2-3", "is not a chapter number or range"),
        ("3 5", "3 5", "is not a chapter number or range"),
        ("2.5", "2.5", "is not a chapter number or range"),
        ("0", "0", "is out of range: chapters are numbered from 1"),
        ("11", "11", "is out of range"),
        ("4-12", "4-12", "is out of range"),
        ("12-", "12-", "is out of range"),
        ("7-3", "7-3", "is backwards (write the lower number first)"),
    ])
    def test_errors_name_option_part_and_count(self, spec, part, problem):
        with pytest.raises(ConfigError) as info:
            select_chapters(book_of(10), spec)
        assert str(info.value) == (
            f"--chapters {spec!r}: {part!r} {problem}; the book has 10 chapters "
            "(run `narrator chapters BOOK` to list them)")

    def test_one_chapter_is_singular(self):
        with pytest.raises(ConfigError, match=r"the book has 1 chapter \("):
            select_chapters(book_of(1), "2")


class TestListing:
    def test_lines(self):
        book = Book("B", None, (
            Chapter("Cover", ("x",), "cover"),
            Chapter("The Storm", ("a" * 12_000, "b" * 345)),
            Chapter("Tiny", ("I",)),
        ))
        assert chapter_listing(book) == [
            " 1  Cover  (skipped: cover)",
            " 2  The Storm  (12,345 characters)",
            " 3  Tiny  (1 character)",
        ]

    def test_numbers_are_right_aligned_for_long_books(self):
        lines = chapter_listing(book_of(120))
        assert lines[0].startswith("  1  C1  (") and lines[119].startswith("120  C120  (")

    def test_listing_of_an_epub_matches_chapter_numbers(self, tmp_path):
        book = read_document(write_epub(tmp_path / "book.epub"))
        lines = chapter_listing(book)
        assert lines[:2] == [" 1  Contents  (skipped: toc)", " 2  Copyright  (skipped: copyright-page)"]
        assert lines[2].startswith(" 3  The Harbour at Dawn  (")
        assert titles(select_chapters(book, "2-3")) == ["Copyright", "The Harbour at Dawn"]
