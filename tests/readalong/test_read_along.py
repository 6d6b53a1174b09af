"""Read-along books made against the real embedded server, then taken apart:
epubcheck finds no error, every clip is decoded from the EPUB itself and
starts where its first word is heard, holds the words its fragment shows,
and every page reads exactly as the source did."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote

import miniaudio
import numpy as np
import pytest
from lxml import etree
from mutagen.id3 import ID3

from narrator.runner import narrate_file
from narrator.server.app import EmbeddedServer
from narrator.settings import NarrateOptions
from narrator.text.html import element_text
from tests.book.test_sync import speech_onsets
from tests.helpers import run
from tests.narrating import narrate_book
from tests.readalong.epubcheck import epubcheck
from tests.test_cli import narrator
from tests.text.epub_builder import write_epub

TOLERANCE_MS = 60
SMIL = "{http://www.w3.org/ns/SMIL}"
OPF = "{http://www.idpf.org/2007/opf}"

CHAPTERS = [
    ("The Harbour at Dawn", [
        "The boats came in before the sun, low in the water. Dr. Reed wrote it down, and A. Tester "
        "checked the list twice.",
        "The tide was 3.5 metres that morning... and falling. \"Are you sure?\" she asked. Nobody was.",
    ]),
    ("A Letter from the Hills", [
        "The letter had travelled for three weeks, e.g. through two ports. It asked for salt at 9 a.m. "
        "on the first market day.",
        "Mr. Vale read it twice, then went to find St. Clair, who kept the old road maps.",
    ]),
    ("The Road Inland", [
        "They left on a grey morning with a borrowed mule. The road climbed through orchards.",
        "In the morning the valley was full of cloud, white and still.",
    ]),
]
MARKDOWN = """# Field Notes

## The Harbour

The boats came in at dawn. Dr. Reed wrote it *down*, and **A. Tester** checked the list.

It was quiet. The gulls were not.

## The Lighthouse

The keeper lit the lamp at *nine*. Nobody saw it, but the ships did.
"""


def clock(value: str) -> int:
    h, m, s = value.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)


class ReadAlong:
    """A read-along EPUB, opened: its package, overlays, pages and audio."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path)
        container = etree.fromstring(self.zip.read("META-INF/container.xml"))
        self.opf_path = container.find(".//{*}rootfile").get("full-path")
        self.opf = etree.fromstring(self.zip.read(self.opf_path))
        folder = posixpath.dirname(self.opf_path)
        self.items = {item.get("id"): item for item in self.opf.iter(f"{OPF}item")}
        self.paths = {i: posixpath.normpath(posixpath.join(folder, unquote(item.get("href"))))
                      for i, item in self.items.items()}

    def page(self, path: str) -> etree._Element:
        return etree.fromstring(self.zip.read(path))

    def overlays(self):
        """(page path, [(fragment element, audio path, begin ms, end ms)]) per narrated chapter,
        in spine order."""
        for ref in self.opf.iter(f"{OPF}itemref"):
            item = self.items[ref.get("idref")]
            if not item.get("media-overlay"):
                continue
            smil_path = self.paths[item.get("media-overlay")]
            page_path = self.paths[ref.get("idref")]
            page = self.page(page_path)
            pars = []
            for par in etree.fromstring(self.zip.read(smil_path)).iter(f"{SMIL}par"):
                text, audio = par.find(f"{SMIL}text"), par.find(f"{SMIL}audio")
                target = posixpath.normpath(posixpath.join(posixpath.dirname(smil_path),
                                                           unquote(text.get("src"))))
                document, _, fragment = target.partition("#")
                assert document == page_path
                element = page.xpath(f'//*[@id="{fragment}"]')
                assert len(element) == 1, fragment
                audio_path = posixpath.normpath(posixpath.join(posixpath.dirname(smil_path),
                                                               unquote(audio.get("src"))))
                clip = clock(audio.get("clipBegin")), clock(audio.get("clipEnd"))
                pars.append((element[0], audio_path, *clip))
            yield page_path, pars

    def meta(self, prop: str, refines: str | None = None) -> list[str]:
        return [m.text for m in self.opf.iter(f"{OPF}meta")
                if m.get("property") == prop and m.get("refines") == refines]


def book_words(json_path: Path, mp3: Path) -> list[list[tuple[str, int]]]:
    """The caption JSON's words, each chapter's on its own chapter file's clock (by the book's
    chapter marks)."""
    words = json.loads(json_path.read_text())["words"]
    marks = sorted((f.start_time, f.end_time) for f in ID3(mp3).getall("CHAP"))
    chapters: list[list[tuple[str, int]]] = [[] for _ in marks]
    for word in words:
        at = round(word["start"] * 1000)
        k = next(i for i, (start, end) in enumerate(marks) if start <= at < end)
        chapters[k].append((word["text"], at - marks[k][0]))
    return chapters


def check_clips(book: ReadAlong, words_by_chapter, granularity: str) -> int:
    """Every par: decoded from the EPUB, its clip starts where speech starts
    (sentences, which a pause comes before), and holds as many of the
    caption's words as its fragment shows. Returns how many words the clips hold."""
    checked = 0
    overlays = list(book.overlays())
    assert len(overlays) == len(words_by_chapter)
    for (page_path, pars), words in zip(overlays, words_by_chapter):
        audio = {path for _, path, _, _ in pars}
        assert len(audio) == 1
        onsets = speech_onsets(book.zip.read(audio.pop()))
        starts = [at for _, at in words]
        for index, (element, _, begin, end) in enumerate(pars):
            shown = element_text(element).split()
            # Both clocks count the same samples, each rounded to the ms once: 2 ms covers the rounding.
            held = [text for text, at in words if begin - 2 <= at < end - 2]
            assert len(held) == len(shown), (page_path, shown, held)
            assert min(abs(at - begin) for at in starts) <= 2  # it begins at a word the captions time
            if granularity == "sentence":
                nearest = onsets[np.argmin(np.abs(onsets - begin))]
                assert abs(nearest - begin) <= TOLERANCE_MS, (page_path, index, shown, begin, nearest)
            checked += len(held)
    return checked


def texts(root: etree._Element) -> str:
    return "".join(root.itertext())


# --- an EPUB with nav, NCX, cover, front matter, a footnote and an image, -o its own folder ---


@pytest.fixture(scope="module")
def epub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("epub")
    source = write_epub(folder / "salt.epub", CHAPTERS)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    options = NarrateOptions(folder, read_along="sentence", captions=("srt", "json"), progress=False)
    result = narrate_file(source, options)
    return source, before, result


def test_the_epub_passes_epubcheck_with_no_warning_of_its_own(epub):
    _, _, result = epub
    assert result.read_along == result.mp3.with_name("salt.read-along.epub")
    found = epubcheck(result.read_along, ("FATAL", "ERROR", "WARNING"))
    # The source's own: its chapter files are named with a space, which EPUBCheck warns of.
    assert [line for line in found if " PKG-010 " not in line] == []


def test_the_source_epub_in_the_output_folder_is_untouched(epub):
    source, before, _ = epub
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def test_every_sentence_clip_starts_with_its_speech_and_holds_its_words(epub):
    _, _, result = epub
    book = ReadAlong(result.read_along)
    words = book_words(result.captions["json"], result.mp3)
    assert check_clips(book, words, "sentence") == sum(map(len, words))  # every word spoken is in a clip


def test_every_page_reads_as_the_source_did_and_front_matter_has_no_overlay(epub):
    source, _, result = epub
    book, original = ReadAlong(result.read_along), zipfile.ZipFile(source)
    pages = [n for n in original.namelist() if n.endswith(".xhtml")]
    for name in pages:
        assert texts(book.page(name)) == texts(etree.fromstring(original.read(name))), name
    overlaid = {book.paths[i] for i, item in book.items.items() if item.get("media-overlay")}
    assert overlaid == {f"OEBPS/Text/chapter {n}.xhtml" for n in (1, 2, 3)}
    assert {"OEBPS/Text/cover.xhtml", "OEBPS/Text/contents.xhtml", "OEBPS/Text/copyright.xhtml"} <= set(pages)
    assert book.zip.read("OEBPS/Images/cover.png") == original.read("OEBPS/Images/cover.png")


def test_abbreviations_and_initials_stay_whole_in_highlights_and_captions(epub):
    _, _, result = epub
    book = ReadAlong(result.read_along)
    sentences = [" ".join(element_text(e).split()) for _, pars in book.overlays() for e, *_ in pars]
    for whole in ["Dr. Reed wrote it down, and A. Tester checked the list twice.",
                  "The tide was 3.5 metres that morning... and falling.",
                  "\"Are you sure?\" she asked.",
                  "The letter had travelled for three weeks, e.g. through two ports.",
                  "It asked for salt at 9 a.m. on the first market day.",
                  "Mr. Vale read it twice, then went to find St. Clair, who kept the old road maps."]:
        assert whole in sentences
    cues = [block.split("\n")[2:] for block in result.captions["srt"].read_text().strip().split("\n\n")]
    cue_ends = [" ".join(lines).split()[-1] for lines in cues]
    assert len(cue_ends) > 10
    assert not {"Dr.", "A.", "Mr.", "St.", "e.g."} & set(cue_ends)


def test_the_package_carries_overlays_durations_narrator_and_stored_audio(epub):
    _, _, result = epub
    book = ReadAlong(result.read_along)
    overlays = [i for i in book.items.values() if i.get("media-overlay")]
    each = [clock(d) for o in overlays for d in book.meta("media:duration", "#" + o.get("media-overlay"))]
    assert len(each) == len(overlays) == 3
    assert clock(book.meta("media:duration")[0]) == sum(each)
    assert book.meta("media:narrator") == ["en-us"]
    active = book.meta("media:active-class")[0]
    css = [book.zip.read(p).decode() for i, p in book.paths.items() if p.endswith(".css") and "narrator" in p]
    assert any(f".{active}" in c for c in css)
    mp3s = [p for i, p in book.paths.items() if book.items[i].get("media-type") == "audio/mpeg"]
    assert len(mp3s) == 3
    assert all(book.zip.getinfo(p).compress_type == zipfile.ZIP_STORED for p in mp3s)
    assert book.zip.namelist()[0] == "mimetype"
    # The chapter audio is the book's: decoded, their lengths add up to the whole.
    seconds = sum(miniaudio.mp3_read_s16(book.zip.read(p)).num_frames / 44100 for p in mp3s)
    assert abs(seconds - result.audio_seconds) < 0.2


# --- Markdown, word by word, from the command line ---


@pytest.fixture(scope="module")
def markdown(tmp_path_factory):
    folder = tmp_path_factory.mktemp("markdown")
    (folder / "notes.md").write_text(MARKDOWN)
    done = narrator("narrate", folder / "notes.md", "-o", folder / "out", "--captions", "json",
                    "--read-along", "word")
    assert done.returncode == 0, done.stderr
    return folder / "out", done


def test_markdown_word_by_word_is_valid_and_every_word_clip_holds_one_word(markdown):
    out, done = markdown
    path = out / "notes.read-along.epub"
    assert f"read-along book: {path}" in done.stdout
    assert epubcheck(path) == []
    book = ReadAlong(path)
    words = book_words(out / "notes.json", out / "notes.mp3")
    assert check_clips(book, words, "word") == sum(map(len, words)) == 42
    pars = [element_text(e) for _, pars in book.overlays() for e, *_ in pars]
    assert pars[:3] == ["The Harbour", "The", "boats"]  # the spoken title is its heading; then word by word


def test_markdown_pages_keep_headings_paragraphs_and_emphasis(markdown):
    out, _ = markdown
    book = ReadAlong(out / "notes.read-along.epub")
    (first, _), (second, _) = book.overlays()
    page = book.page(first)
    assert [texts(h) for h in page.iter("{*}h1")] == ["The Harbour"]
    assert [" ".join(texts(p).split()) for p in page.iter("{*}p")] == [
        "The boats came in at dawn. Dr. Reed wrote it down, and A. Tester checked the list.",
        "It was quiet. The gulls were not."]
    assert [texts(e) for e in page.iter("{*}em")] == ["down"]
    assert [texts(e) for e in page.iter("{*}strong")] == ["A. Tester"]
    nav = [texts(a) for a in book.page("OEBPS/nav.xhtml").iter("{*}a")]
    assert nav == ["The Harbour", "The Lighthouse"]


# --- an EPUB 2 whose every chapter is front matter but one ---


def epub2_as_found(files):
    """What EPUB 2 books in the wild hold: entities only XHTML 1.1's DTD declares,
    two dates, a contributor whose id is one narrator might pick."""
    page = "OEBPS/Text/chapter 1.xhtml"
    files[page] = files[page].replace(b"low in the water", b"low&nbsp;in the&#160;water&mdash;", 1)
    opf = files["OEBPS/content.opf"].decode()
    opf = opf.replace("</dc:title>", '</dc:title><dc:date opf:event="creation">2019</dc:date>'
                      '<dc:date opf:event="publication">2020</dc:date>'
                      '<dc:contributor id="narrator-1">A. Reader</dc:contributor>', 1)
    files["OEBPS/content.opf"] = opf.encode()


def test_an_epub2_with_one_prose_chapter_becomes_a_valid_epub3_with_one_overlay(tmp_path):
    source = write_epub(tmp_path / "one.epub", CHAPTERS[:1], epub3=False, edit=epub2_as_found)
    result = narrate_file(source, NarrateOptions(tmp_path / "out", read_along="sentence", progress=False))
    assert epubcheck(result.read_along) == []
    book = ReadAlong(result.read_along)
    assert book.opf.get("version") == "3.0"
    assert [page for page, _ in book.overlays()] == ["OEBPS/Text/chapter 1.xhtml"]
    assert sum(1 for i in book.items.values() if i.get("media-overlay")) == 1
    assert any("nav" in (i.get("properties") or "").split() for i in book.items.values())
    assert "low\u00a0in the\u00a0water\u2014" in texts(book.page("OEBPS/Text/chapter 1.xhtml"))
    cover = [i for i in book.items.values() if "cover-image" in (i.get("properties") or "").split()]
    assert [book.paths[c.get("id")] for c in cover] == ["OEBPS/Images/cover.png"]


def test_a_read_along_book_narrated_again_gets_new_overlays_in_place_of_the_old(epub, tmp_path):
    _, _, first = epub
    again = tmp_path / "again.epub"
    again.write_bytes(first.read_along.read_bytes())
    result = narrate_file(again, NarrateOptions(tmp_path / "out", read_along="word", progress=False))
    assert epubcheck(result.read_along) == []
    book = ReadAlong(result.read_along)
    smil = [p for p in book.zip.namelist() if p.endswith(".smil")]
    assert len(smil) == 3 and all(p.startswith("OEBPS/narrator-2/") for p in smil)
    assert len(book.meta("media:duration")) == 1 and len(book.zip.namelist()) == len(set(book.zip.namelist()))
    assert all(" " not in element_text(e) for _, pars in book.overlays() for e, *_ in pars[1:])  # words now


def test_a_changed_page_remakes_the_read_along_book_from_the_cache(tmp_path):
    source = tmp_path / "notes.md"
    source.write_text(MARKDOWN)
    options = NarrateOptions(tmp_path / "out", read_along="sentence", progress=False)
    assert narrate_file(source, options) is not None
    assert narrate_file(source, options) is None  # up to date
    source.write_text(MARKDOWN.replace("*down*", "**down**"))  # the same words, other emphasis
    again = narrate_file(source, options)
    assert again is not None and again.characters_sent == 0
    assert b"<strong>down</strong>" in zipfile.ZipFile(again.read_along).read("OEBPS/text/chapter-001.xhtml")


# --- estimated timings: Sarvam sends none ---


def test_estimated_timings_still_make_a_valid_book_and_say_where(tmp_path, monkeypatch):
    from narrator.text.markdown import parse_markdown

    monkeypatch.setenv("SARVAM_API_KEY", "read-along-key")
    book = parse_markdown(MARKDOWN, "notes.md")

    async def narrate():
        async with EmbeddedServer(api_key="read-along-key") as server:
            options = NarrateOptions(tmp_path, provider="sarvam", endpoint=server.url, progress=False,
                                     read_along="sentence", captions=("json",))
            return await narrate_book(book, "estimated", options)

    result = run(narrate())
    assert result.estimated_chapters == ["The Harbour", "The Lighthouse"]
    assert "captions and read-along highlights estimated in 2 chapters" in result.warnings
    assert epubcheck(result.read_along) == []
    overlays = list(ReadAlong(result.read_along).overlays())
    assert [len(pars) for _, pars in overlays] == [5, 3]  # the titles and the sentences, each a fragment
    for _, pars in overlays:
        assert all(end >= begin for _, _, begin, end in pars)
        assert [begin for _, _, begin, _ in pars] == sorted(begin for _, _, begin, _ in pars)
    assert re.search(r"anushka", ReadAlong(result.read_along).meta("media:narrator")[0])


# --- a job file, and a bad value ---


def test_a_job_file_takes_read_along(tmp_path):
    (tmp_path / "notes.md").write_text(MARKDOWN)
    (tmp_path / "job.toml").write_text('input = "notes.md"\noutput = "out"\nread_along = "word"\n')
    done = narrator("run", tmp_path / "job.toml")
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "out" / "notes.read-along.epub") as book:
        smil = [n for n in book.namelist() if n.endswith(".smil")]
        assert len(smil) == 2 and b'id="w1"' in book.read("OEBPS/text/chapter-001.xhtml")


def test_a_bad_read_along_value_is_one_line_and_makes_nothing(tmp_path):
    (tmp_path / "notes.md").write_text(MARKDOWN)
    (tmp_path / "job.toml").write_text('input = "notes.md"\noutput = "out"\nread_along = "paragraph"\n')
    done = narrator("run", tmp_path / "job.toml")  # a job that fails is one line of the run's report
    assert done.returncode == 10 and "read-along 'paragraph' is not one of sentence, word" in done.stdout
    assert len(done.stdout.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
    done = narrator("narrate", tmp_path / "notes.md", "-o", tmp_path / "out", "--read-along", "line")
    assert done.returncode == 2 and "'line' is not one of 'sentence', 'word'" in done.stderr


def test_a_page_that_is_not_well_formed_keeps_its_text_without_highlights_and_says_so(tmp_path):
    def break_chapter_two(files):
        files["OEBPS/Text/chapter 2.xhtml"] = files["OEBPS/Text/chapter 2.xhtml"].replace(b"</p>", b"", 1)

    source = write_epub(tmp_path / "broken.epub", CHAPTERS, edit=break_chapter_two)
    result = narrate_file(source, NarrateOptions(tmp_path / "out", read_along="sentence", progress=False))
    assert result.warnings == ["read-along highlights left out of 1 page(s) that are not well-formed XHTML: "
                               "OEBPS/Text/chapter 2.xhtml"]
    book = ReadAlong(result.read_along)
    assert [page for page, _ in book.overlays()] == [f"OEBPS/Text/chapter {n}.xhtml" for n in (1, 3)]
    with zipfile.ZipFile(source) as original:
        assert book.zip.read("OEBPS/Text/chapter 2.xhtml") == original.read("OEBPS/Text/chapter 2.xhtml")
