"""EPUB files to Book: real zip files on disk, read through read_document."""

from __future__ import annotations

import re
import time
import tracemalloc
import zipfile
import zlib

import pytest

from narrator.errors import DocumentError
from narrator.text import read_document, select_chapters
from narrator.text.archive import MAX_ENTRIES
from tests.text.epub_builder import (
    ALT_TEXT,
    AUTHOR,
    BOOK_TITLE,
    DEFAULT_CHAPTERS,
    FOOTNOTE,
    SCRIPT,
    STYLE,
    Raw,
    build_files,
    chapter_path,
    chapter_xhtml,
    elsewhere_files,
    tiny_png,
    with_doctype,
    write_epub,
    write_files,
    write_zip_bomb,
    xhtml,
)
from tests.text.test_readers import assert_clean

PROSE_TITLES = [title for title, _ in DEFAULT_CHAPTERS]
NAV = "OEBPS/Nav/nav.xhtml"
OPF = "OEBPS/content.opf"


def everything(book) -> str:
    """Every string the Book holds."""
    return repr(book)


def listing(book) -> list[tuple[str, str | None]]:
    return [(chapter.title, chapter.matter) for chapter in book.chapters]


def replace_in(files: dict[str, bytes], member: str, old: str, new: str) -> None:
    text = files[member].decode("utf-8")
    assert old in text, f"{old!r} not in {member}"
    files[member] = text.replace(old, new, 1).encode("utf-8")


def error_of(path) -> str:
    with pytest.raises(DocumentError) as info:
        read_document(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# --- a well-formed book ---------------------------------------------------


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return read_document(write_epub(tmp_path_factory.mktemp("epub") / "book.epub"))


class TestDefaultBook:
    def test_metadata(self, book):
        assert (book.title, book.author, book.language) == (BOOK_TITLE, AUTHOR, "en")
        assert book.cover is not None
        assert (book.cover.mime, book.cover.data) == ("image/png", tiny_png())

    def test_chapters_in_spine_order_with_matter_marked(self, book):
        # The cover page holds only the image: nothing to narrate, not a chapter.
        assert listing(book) == [("Contents", "toc"), ("Copyright", "copyright-page")] + [
            (title, None) for title in PROSE_TITLES]
        assert_clean(book)

    def test_prose_is_the_paragraphs_heading_not_repeated(self, book):
        for chapter, (title, paragraphs) in zip(book.chapters[2:], DEFAULT_CHAPTERS):
            assert chapter.paragraphs[: len(paragraphs)] == tuple(paragraphs)
            assert title not in chapter.paragraphs

    def test_never_spoken(self, book):
        text = everything(book)
        for hidden in (ALT_TEXT, SCRIPT, STYLE, FOOTNOTE, "never spoken"):
            assert hidden not in text
        # The note mark "1" is gone; the sentence keeps its full stop.
        assert book.chapters[2].paragraphs[-1] == "The sea wall was older than the town."

    def test_matter_is_skipped_by_default(self, book):
        assert [c.title for c in select_chapters(book, None).chapters] == PROSE_TITLES

    def test_suffix_is_case_insensitive(self, tmp_path):
        assert read_document(write_epub(tmp_path / "BOOK.EPUB")).title == BOOK_TITLE


class TestVariants:
    def test_epub2_only_ncx_guide_and_meta_cover(self, tmp_path):
        labels = [f"NCX {n}" for n in range(1, 5)]
        book = read_document(write_epub(tmp_path / "book.epub", epub3=False, nav_labels=labels))
        assert listing(book) == [("Contents", "toc"), ("Copyright", "copyright-page")] + [
            (label, None) for label in labels]
        assert book.cover is not None and book.cover.mime == "image/png"
        assert book.author == AUTHOR

    def test_epub3_only_nav_epub_type_and_cover_image_property(self, tmp_path):
        labels = [f"Nav {n}" for n in range(1, 5)]
        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, nav_labels=labels))
        assert listing(book) == [("Contents", "toc"), ("Copyright", "copyright-page")] + [
            (label, None) for label in labels]
        assert book.cover is not None and book.cover.data == tiny_png()

    def test_landmarks_mark_matter(self, tmp_path):
        def edit(files):  # no epub:type in the pages: only the nav's landmarks say what they are
            replace_in(files, "OEBPS/Text/contents.xhtml", ' epub:type="frontmatter toc"', "")
            replace_in(files, "OEBPS/Text/copyright.xhtml", ' epub:type="frontmatter copyright-page"', "")

        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, edit=edit))
        assert listing(book)[:2] == [("Contents", "toc"), ("Copyright", "copyright-page")]

    def test_nav_title_wins_and_the_heading_it_repeats_is_not_spoken(self, tmp_path):
        labels = [f"Chapter {n}: {title}" for n, title in enumerate(PROSE_TITLES, 1)]
        book = read_document(write_epub(tmp_path / "book.epub", nav_labels=labels))
        chapter = book.chapters[2]
        assert chapter.title == "Chapter 1: The Harbour at Dawn"
        assert chapter.paragraphs[0] == DEFAULT_CHAPTERS[0][1][0]

    def test_a_heading_the_nav_title_does_not_repeat_is_spoken(self, tmp_path):
        labels = ["Part One"] + PROSE_TITLES[1:]
        book = read_document(write_epub(tmp_path / "book.epub", nav_labels=labels))
        assert book.chapters[2].title == "Part One"
        assert book.chapters[2].paragraphs[0] == "The Harbour at Dawn"

    def test_first_of_several_nav_entries_titles_the_document(self, tmp_path):
        def edit(files):
            link = '<li><a href="../Text/chapter%202.xhtml#start">'
            replace_in(files, NAV, link, '<li><a href="../Text/chapter%202.xhtml">Part Two</a></li>' + link)
            replace_in(files, NAV, "</ol></nav>",
                       '<li><a href="../Text/chapter%202.xhtml#end">Late</a></li></ol></nav>')

        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, edit=edit))
        assert book.chapters[3].title == "Part Two"

    def test_without_nav_entry_title_from_heading_then_chapter_number(self, tmp_path):
        def edit(files):
            for number, title in ((2, "A Letter from the Hills"), (3, "The Road Inland")):
                link = f'<li><a href="../Text/chapter%20{number}.xhtml#start">{title}</a></li>'
                replace_in(files, NAV, link, "")
            # Chapter 3 loses its heading too; its <title> is the book's, so it is numbered.
            replace_in(files, chapter_path(3), '<h1 id="start">The Road Inland</h1>', "")

        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, edit=edit))
        assert [c.title for c in book.chapters[3:5]] == ["A Letter from the Hills", "Chapter 5"]

    def test_own_title_element_when_it_is_not_the_book_title(self, tmp_path):
        def edit(files):
            files[chapter_path(2)] = xhtml("<p>Only a paragraph here.</p>", title="Interlude")

        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, epub3=False, edit=edit))
        assert book.chapters[3].title == "Interlude"

    def test_no_navigation_at_all(self, tmp_path):
        # Neither nav nor NCX: every title comes from the documents' headings.
        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, epub3=False))
        assert [c.title for c in book.chapters] == ["Contents", "Copyright"] + PROSE_TITLES
        # Nothing marks the pages: the contents page is known by its links,
        # the copyright page is not known at all.
        assert [c.matter for c in book.chapters] == ["toc"] + [None] * 5

    def test_title_page_of_headings_is_kept_as_matter(self, tmp_path):
        def edit(files):
            files["OEBPS/Text/title.xhtml"] = xhtml(
                f'<section epub:type="titlepage"><h1>{BOOK_TITLE}</h1><h2>{AUTHOR}</h2></section>')
            replace_in(files, OPF, "<manifest>", '<manifest>\n<item id="title" href="Text/title.xhtml" '
                       'media-type="application/xhtml+xml"/>')
            replace_in(files, OPF, '<itemref idref="contents"/>',
                       '<itemref idref="title"/><itemref idref="contents"/>')

        book = read_document(write_epub(tmp_path / "book.epub", edit=edit))
        # Headings only, so not prose; kept because it is marked, and listed.
        assert (book.chapters[0].title, book.chapters[0].paragraphs, book.chapters[0].matter) == (
            BOOK_TITLE, (AUTHOR,), "titlepage")

    def test_nav_in_spine_is_toc(self, tmp_path):
        book = read_document(write_epub(tmp_path / "book.epub", nav_in_spine=True))
        assert listing(book)[0] == ("Contents", "toc")
        assert book.chapters[0].paragraphs[0] == "Contents"  # the nav's first link, not its <h1>

    def test_nav_whose_own_href_is_percent_encoded(self, tmp_path):
        # The nav's file name holds spaces, so the manifest names it with %-escapes;
        # its links are relative to the decoded folder.
        def edit(files):
            files["OEBPS/Nav Pages/the nav.xhtml"] = files.pop(NAV)
            replace_in(files, OPF, 'href="Nav/nav.xhtml"', 'href="Nav%20Pages/the%20nav.xhtml"')
            replace_in(files, "OEBPS/Text/copyright.xhtml", ' epub:type="frontmatter copyright-page"', "")

        labels = [f"Nav {n}" for n in range(1, 5)]
        path = write_epub(tmp_path / "book.epub", epub2=False, nav_labels=labels, nav_in_spine=True,
                          edit=edit)
        book = read_document(path)
        # The nav itself is the contents; the copyright page is known by the nav's landmarks only.
        assert listing(book) == [
            ("Contents", "toc"), ("Contents", "toc"), ("Copyright", "copyright-page")] + [
            (label, None) for label in labels]

    def test_cover_page_with_a_caption_is_marked_cover(self, tmp_path):
        def edit(files):
            # Nothing says "cover" but the image the page shows.
            files["OEBPS/Text/cover.xhtml"] = xhtml(
                '<p><img src="../Images/cover.png" alt="Cover"/></p><p>Illustrated by Kit Vale</p>')
            replace_in(files, NAV, '<li><a epub:type="cover" href="../Text/cover.xhtml">Cover</a></li>', "")

        book = read_document(write_epub(tmp_path / "book.epub", epub2=False, edit=edit))
        assert (book.chapters[0].matter, book.chapters[0].paragraphs) == (
            "cover", ("Illustrated by Kit Vale",))

    def test_non_linear_spine_item_is_marked(self, tmp_path):
        def edit(files):
            replace_in(files, OPF, '<itemref idref="chapter4"/>', '<itemref idref="chapter4" linear="no"/>')

        book = read_document(write_epub(tmp_path / "book.epub", edit=edit))
        assert listing(book)[-1] == (PROSE_TITLES[-1], "non-linear")

    def test_authors_are_joined_illustrators_left_out(self, tmp_path):
        for epub2, epub3 in ((True, True), (True, False)):
            path = write_epub(tmp_path / f"b{epub3}.epub", authors=["Ann Lee", "Bo Park"],
                              illustrators=["Cy Ink"], epub2=epub2, epub3=epub3)
            assert read_document(path).author == "Ann Lee and Bo Park"
        three = write_epub(tmp_path / "three.epub", authors=["A. One", "B. Two", "C. Three"])
        assert read_document(three).author == "A. One, B. Two and C. Three"

    def test_title_falls_back_to_file_name(self, tmp_path):
        def edit(files):
            replace_in(files, OPF, f"<dc:title>{BOOK_TITLE}</dc:title>", "<dc:title>  </dc:title>")

        assert read_document(write_epub(tmp_path / "my_lost-book.epub", edit=edit)).title == "My Lost Book"

    def test_a_book_laid_out_by_another_producer(self, tmp_path):
        # An independent producer's layout (another library's writer), unencoded space in a name.
        path = write_files(tmp_path / "elsewhere.epub", elsewhere_files())
        read = read_document(path)
        assert (read.title, read.author, read.language) == ("Written Elsewhere", "Dee Vries", "nl")
        # That producer heads its nav page with the book title.
        assert listing(read) == [("Written Elsewhere", "toc"), ("Nav 1", None), ("Nav 2", None)]
        # "Nav 2" does not repeat the document's heading, so the heading is spoken.
        title, paragraphs = DEFAULT_CHAPTERS[1]
        assert read.chapters[-1].paragraphs == (title, *paragraphs)


# --- hostile XML ----------------------------------------------------------

_LAUGHS = "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
)
# Where each hostile file puts its entity reference.
_TARGETS = {
    chapter_path(1): ("<p>The boats", "<p>&{entity}; The boats"),
    OPF: (f"<dc:title>{BOOK_TITLE}", f"<dc:title>{BOOK_TITLE} &{{entity}};"),
    NAV: (">The Harbour at Dawn<", ">The Harbour at Dawn &{entity};<"),
    "OEBPS/toc.ncx": ("<text>The Harbour at Dawn", "<text>The Harbour at Dawn &{entity};"),
    "META-INF/container.xml": ("<rootfiles>", "<rootfiles>&{entity};"),
}


def hostile_epub(tmp_path, member: str, entity: str):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-EPUB")
    doctype = (f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}"><!ENTITY lol0 "lol">{_LAUGHS}]>')
    old, new = _TARGETS[member]

    def edit(files):
        files[member] = with_doctype(files[member], doctype)
        replace_in(files, member, old, new.format(entity=entity))

    # Without a nav document the NCX is where titles come from.
    return write_epub(tmp_path / "book.epub", edit=edit, epub3=member != "OEBPS/toc.ncx")


class TestHostileXml:
    @pytest.mark.parametrize("member", list(_TARGETS))
    def test_external_entity_is_never_resolved(self, tmp_path, member):
        path = hostile_epub(tmp_path, member, "xxe")
        try:
            book = read_document(path)
        except DocumentError as error:
            assert "TOPSECRET" not in str(error) and "\n" not in str(error)
            return
        assert "TOPSECRET" not in everything(book)
        assert "xxe" not in everything(book)
        assert [c.title for c in select_chapters(book, None).chapters][1:] == PROSE_TITLES[1:]

    @pytest.mark.parametrize("member", list(_TARGETS))
    def test_billion_laughs_does_not_expand(self, tmp_path, member):
        path = hostile_epub(tmp_path, member, "lol9")
        started = time.monotonic()
        try:
            book = read_document(path)
        except DocumentError as error:
            assert "\n" not in str(error)
        else:
            assert "lollol" not in everything(book)
        assert time.monotonic() - started < 5


# --- zip limits -----------------------------------------------------------


def peak_while_reading(path) -> tuple[str | None, int, float]:
    """(error message or None, peak traced bytes, seconds) of read_document."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        read_document(path)
        message = None
    except DocumentError as error:
        message = str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return message, peak, time.monotonic() - started


_MIB = 1 << 20


class TestZipLimits:
    def test_the_bomb_builder_writes_genuine_entries(self, tmp_path):
        # What the bomb tests below rely on: a real deflated entry of zeros.
        path = write_zip_bomb(tmp_path / "book.epub", chapter_path(2), 4)
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(chapter_path(2))
            assert (info.compress_type, info.file_size) == (zipfile.ZIP_DEFLATED, 4 * _MIB)
            assert info.compress_size < 8192
            assert archive.read(info) == bytes(4 * _MIB)  # checks the CRC too

    def test_a_real_zip_bomb_is_refused_quickly_in_little_memory(self, tmp_path):
        path = write_zip_bomb(tmp_path / "book.epub", chapter_path(2), 1024)  # 1 GiB of zeros
        assert path.stat().st_size < 2 * _MIB
        with zipfile.ZipFile(path) as archive:  # a genuine entry: headers, CRC and all
            assert archive.getinfo(chapter_path(2)).file_size == 1024 * _MIB
        message, peak, seconds = peak_while_reading(path)
        assert message is not None and message.startswith("book.epub: refused: ")
        assert "zip bomb" in message and "\n" not in message
        assert seconds < 5 and peak < 16 * _MIB

    def test_one_entry_with_an_absurd_ratio(self, tmp_path):
        path = write_zip_bomb(tmp_path / "book.epub", chapter_path(2), 64)
        message = error_of(path)
        assert re.fullmatch(
            r"book\.epub: refused: OEBPS/Text/chapter 2\.xhtml expands [\d,]+ times .*zip bomb", message)

    def test_too_many_entries(self, tmp_path):
        files = build_files()
        files.update({f"OEBPS/junk/{n}.txt": b"" for n in range(MAX_ENTRIES)})
        message = error_of(write_files(tmp_path / "book.epub", files))
        assert message.startswith("book.epub: refused: the archive claims 10,0")
        assert "at most 10,000" in message

    def test_a_lying_header_cannot_make_reading_hold_more_than_it_declares(self, tmp_path):
        # Declares 1,000 bytes (with their true CRC) but holds 1 GiB of zeros:
        # one unbounded zipfile read() would decompress all of it first.
        declared_crc = zlib.crc32(bytes(1000))
        path = write_zip_bomb(tmp_path / "book.epub", chapter_path(2), 1024, declared=1000, crc=declared_crc)
        message, peak, seconds = peak_while_reading(path)
        assert message is None  # read: chapter 2 is 1,000 zero bytes, no prose
        assert peak < 16 * _MIB and seconds < 5
        assert PROSE_TITLES[1] not in [c.title for c in read_document(path).chapters]

    def test_a_lying_header_with_a_wrong_crc_is_damage(self, tmp_path):
        path = write_zip_bomb(tmp_path / "book.epub", chapter_path(2), 16, declared=1000)
        message = error_of(path)
        assert message.startswith(
            "book.epub: OEBPS/Text/chapter 2.xhtml is damaged in the archive (Bad CRC-32")

    def test_other_compression_methods_are_refused(self, tmp_path):
        path = tmp_path / "book.epub"
        files = build_files()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        assert "uses zip compression method 12; EPUB allows only stored or deflated" in error_of(path)


# --- broken books ---------------------------------------------------------


class TestBroken:
    @pytest.mark.parametrize("content", [b"This is plain text pretending to be an EPUB.", b""])
    def test_not_a_zip(self, tmp_path, content):
        path = tmp_path / "book.epub"
        path.write_bytes(content)
        assert error_of(path) == "book.epub: not an EPUB (not a zip archive)"

    def test_no_container(self, tmp_path):
        path = write_epub(tmp_path / "book.epub", edit=lambda files: files.pop("META-INF/container.xml"))
        assert error_of(path) == "book.epub: not an EPUB (no META-INF/container.xml in the archive)"

    def test_container_points_to_a_missing_package(self, tmp_path):
        path = write_epub(tmp_path / "book.epub", edit=lambda files: files.pop(OPF))
        assert error_of(path) == (
            "book.epub: META-INF/container.xml points to OEBPS/content.opf, which is not in the archive")

    def test_container_without_rootfile(self, tmp_path):
        def edit(files):
            replace_in(files, "META-INF/container.xml", "<rootfile ", "<other ")

        assert "names no package document" in error_of(write_epub(tmp_path / "book.epub", edit=edit))

    def test_missing_spine_document_is_named(self, tmp_path):
        path = write_epub(tmp_path / "book.epub", edit=lambda files: files.pop(chapter_path(2)))
        assert error_of(path) == (
            "book.epub: OEBPS/Text/chapter 2.xhtml (a spine document) is missing from the archive")

    def test_missing_manifest_file_is_named(self, tmp_path):
        path = write_epub(tmp_path / "book.epub", edit=lambda files: files.pop("OEBPS/Styles/book.css"))
        assert error_of(path) == (
            "book.epub: OEBPS/Styles/book.css (listed in the manifest) is missing from the archive")

    def test_spine_reference_not_in_manifest(self, tmp_path):
        def edit(files):
            replace_in(files, OPF, '<itemref idref="chapter2"/>', '<itemref idref="ghost"/>')

        assert "the spine lists 'ghost', which the manifest of OEBPS/content.opf does not have" in error_of(
            write_epub(tmp_path / "book.epub", edit=edit))

    def test_no_spine(self, tmp_path):
        def edit(files):
            files[OPF] = re.sub(rb"<spine.*</spine>", b"", files[OPF], flags=re.S)

        assert error_of(write_epub(tmp_path / "book.epub", edit=edit)) == (
            "book.epub: OEBPS/content.opf has no spine (the reading order); not a usable EPUB")

    def test_package_not_well_formed(self, tmp_path):
        def edit(files):
            replace_in(files, OPF, "</manifest>", "</manifes>")

        assert error_of(write_epub(tmp_path / "book.epub", edit=edit)).startswith(
            "book.epub: OEBPS/content.opf is not well-formed XML (")

    def test_nav_without_toc(self, tmp_path):
        def edit(files):
            replace_in(files, NAV, 'epub:type="toc"', 'epub:type="other"')

        assert error_of(write_epub(tmp_path / "book.epub", edit=edit)) == (
            'book.epub: its navigation document OEBPS/Nav/nav.xhtml has no <nav epub:type="toc">')

    def test_drm(self, tmp_path):
        def edit(files):
            files["META-INF/encryption.xml"] = (
                b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                b'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
                b'<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
                b'<enc:CipherData><enc:CipherReference URI="OEBPS/Text/chapter%201.xhtml"/></enc:CipherData>'
                b"</enc:EncryptedData></encryption>")

        assert error_of(write_epub(tmp_path / "book.epub", edit=edit)).startswith("book.epub: DRM-protected")

    def test_font_obfuscation_is_not_drm(self, tmp_path):
        def edit(files):
            files["META-INF/encryption.xml"] = (
                b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                b'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
                b'<enc:EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>'
                b"</enc:EncryptedData></encryption>")

        assert read_document(write_epub(tmp_path / "book.epub", edit=edit)).title == BOOK_TITLE

    def test_no_prose(self, tmp_path):
        def edit(files):
            for member in ("OEBPS/Text/contents.xhtml", "OEBPS/Text/copyright.xhtml"):
                files[member] = xhtml('<p><img src="../Images/cover.png" alt="A picture"/></p>')

        path = write_epub(tmp_path / "book.epub", chapters=[("Plates", [])], extras=False, edit=edit)
        message = error_of(path)
        assert message.startswith("book.epub: no prose to narrate (found ")
        assert "image" in message

    def test_only_matter_is_left_to_select_chapters(self, tmp_path):
        book = read_document(write_epub(tmp_path / "book.epub", chapters=[("Plates", [])], extras=False))
        assert [c.matter for c in book.chapters] == ["toc", "copyright-page"]
        with pytest.raises(DocumentError,
                           match=r"every chapter is front or back matter \(copyright-page, toc\)"):
            select_chapters(book, None)

    def test_raw_markup_in_builder_is_real_markup(self, tmp_path):
        # The builder's Raw() is what the hostile tests rely on: check it is not escaped.
        document = chapter_xhtml("T", [Raw("<b>bold</b> words")])
        assert b"<p><b>bold</b> words</p>" in document
