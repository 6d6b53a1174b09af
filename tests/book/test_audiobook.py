"""An EPUB to an audiobook, as a user runs it: `narrator narrate book.epub`
through the embedded server, then the files read back with mutagen,
decoded with miniaudio and checked against each other and the text."""

from __future__ import annotations

import json
import re

import miniaudio
import numpy as np
import pytest
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from narrator.audio.m4b import find_ffmpeg
from narrator.errors import ConfigError
from narrator.text import read_document, select_chapters
from tests.test_cli import narrator
from tests.text.epub_builder import AUTHOR, BOOK_TITLE, DEFAULT_CHAPTERS, tiny_png, write_epub, write_zip_bomb

TITLES = [title for title, _ in DEFAULT_CHAPTERS]


def has_ffmpeg() -> bool:
    try:
        find_ffmpeg()
    except ConfigError:
        return False
    return True


def spoken_chapters(epub):
    """What narrator reads from the EPUB, chapter by chapter (title first): what the captions must say."""
    book = select_chapters(read_document(epub), None)
    return [f"{c.title}. {' '.join(c.paragraphs)}".split() for c in book.chapters]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The test EPUB (nav and NCX, cover, contents and copyright pages, four
    chapters) narrated once, with every caption format and, where ffmpeg
    is found, an M4B."""
    folder = tmp_path_factory.mktemp("audiobook")
    epub = write_epub(folder / "salt-road.epub")
    out = folder / "out"
    extra = ["--format", "m4b"] if has_ffmpeg() else []
    done = narrator("narrate", epub, "-o", out, "--captions", "srt", "--captions", "vtt",
                    "--captions", "json", *extra)
    assert done.returncode == 0, done.stderr
    return out


def decoded(path):
    audio = miniaudio.mp3_read_s16(path.read_bytes())
    return np.frombuffer(audio.samples, dtype=np.int16), audio.sample_rate


def chapter_files(out):
    return sorted((out / "salt-road").glob("*.mp3"))


def cues(path):
    """(start ms, end ms, text) of each SRT cue."""
    found = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.splitlines()
        times = [int(h) * 3600000 + int(m) * 60000 + int(s) * 1000 + int(ms)
                 for h, m, s, ms in re.findall(r"(\d+):(\d\d):(\d\d),(\d{3})", lines[1])]
        found.append((times[0], times[1], " ".join(lines[2:])))
    return found


def test_prose_chapters_become_numbered_files_and_front_matter_is_skipped(book):
    names = [p.name for p in chapter_files(book)]
    assert names == [f"{n:02d} - {title}.mp3" for n, title in enumerate(TITLES, 1)]


def test_the_book_carries_id3v24_chapters_at_the_chapter_files_frame_exact_times(book):
    tag = ID3(book / "salt-road.mp3")
    assert tag.version == (2, 4, 0)
    assert str(tag["TIT2"]) == BOOK_TITLE and str(tag["TALB"]) == BOOK_TITLE and str(tag["TPE1"]) == AUTHOR
    assert tag.getall("APIC")[0].data == tiny_png()
    toc = tag.getall("CTOC")[0]
    chapters = {frame.element_id: frame for frame in tag.getall("CHAP")}
    assert [str(chapters[child].sub_frames["TIT2"]) for child in toc.child_element_ids] == TITLES
    # Each chapter starts where the previous chapter file's decoded audio ends.
    start = 0
    lengths = []
    for child, path in zip(toc.child_element_ids, chapter_files(book)):
        samples, rate = decoded(path)
        lengths.append(len(samples))
        end = start + len(samples)
        assert abs(chapters[child].start_time - start * 1000 / rate) <= 0.5
        assert abs(chapters[child].end_time - end * 1000 / rate) <= 0.5
        start = end
    whole, _ = decoded(book / "salt-road.mp3")
    assert len(whole) == sum(lengths), "the book is exactly its chapter files, frame for frame"


def test_chapter_files_are_tagged_and_numbered(book):
    for number, path in enumerate(chapter_files(book), 1):
        tag = ID3(path)
        assert str(tag["TRCK"]) == f"{number}/{len(TITLES)}"
        assert str(tag["TIT2"]) == TITLES[number - 1] and str(tag["TALB"]) == BOOK_TITLE
        assert tag.getall("APIC")[0].data == tiny_png()


def test_each_chapter_has_its_own_captions_matching_its_text_and_the_book(book):
    tag = ID3(book / "salt-road.mp3")
    starts = sorted(frame.start_time for frame in tag.getall("CHAP"))
    book_cues = cues(book / "salt-road.srt")
    shifted = []
    expected = spoken_chapters(book.parent / "salt-road.epub")
    for spoken, path, start in zip(expected, chapter_files(book), starts, strict=True):
        own = cues(path.with_suffix(".srt"))
        words = " ".join(text for _, _, text in own).split()
        assert words == spoken
        assert "never spoken" not in " ".join(words)
        samples, rate = decoded(path)
        assert own[-1][1] <= len(samples) * 1000 / rate
        shifted += [(a + start, b + start, text) for a, b, text in own]
    assert len(shifted) == len(book_cues)
    for (a, b, text), (c, d, book_text) in zip(shifted, book_cues):
        assert text == book_text and abs(a - c) <= 1 and abs(b - d) <= 1


def test_a_chapter_file_starts_with_room_tone_and_its_first_caption_where_speech_starts(book):
    for path in chapter_files(book):
        samples, rate = decoded(path)
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 32768 * 10 ** (-40 / 20))
        onset_ms = loud[0] * 1000 / rate
        first = cues(path.with_suffix(".srt"))[0][0]
        assert 700 <= onset_ms <= 1000, "the 0.75 s lead-in, and the voice's own start"
        assert abs(first - onset_ms) <= 150
        tail_ms = (len(samples) - loud[-1]) * 1000 / rate
        assert 1900 <= tail_ms <= 2600, "the 2 s chapter pause"


def test_word_timestamps_in_vtt_and_every_word_in_json(book):
    vtt = (book / "salt-road.vtt").read_text(encoding="utf-8")
    assert re.search(r"\w <\d\d:\d\d:\d\d\.\d{3}>\w", vtt)
    words = json.loads((book / "salt-road.json").read_text(encoding="utf-8"))["words"]
    spoken = [word for chapter in spoken_chapters(book.parent / "salt-road.epub") for word in chapter]
    assert [w["text"] for w in words] == spoken
    assert all(a["start"] <= b["start"] for a, b in zip(words, words[1:]))


@pytest.mark.skipif(not has_ffmpeg(), reason="no ffmpeg (install it, or `pip install imageio-ffmpeg`)")
def test_the_m4b_has_the_same_chapters_at_the_same_times(book):
    m4b = MP4(book / "salt-road.m4b")
    marks = sorted((frame.start_time, str(frame.sub_frames["TIT2"]))
                   for frame in ID3(book / "salt-road.mp3").getall("CHAP"))
    assert [chapter.title for chapter in m4b.chapters] == TITLES
    for chapter, (start_ms, _) in zip(m4b.chapters, marks):
        assert abs(chapter.start * 1000 - start_ms) <= 1
    assert m4b["\xa9nam"] == [BOOK_TITLE] and m4b["covr"][0] == tiny_png()


def test_chapters_lists_what_narrate_takes_and_a_range_picks_them(book, tmp_path):
    epub = write_epub(tmp_path / "salt-road.epub")
    listing = narrator("chapters", epub)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert "skipped" in lines[0] and all(title in listing.stdout for title in TITLES)
    first_prose = next(i for i, line in enumerate(lines, 1) if TITLES[0] in line)
    done = narrator("narrate", epub, "-o", tmp_path / "out",
                    "--chapters", f"{first_prose + 1}-{first_prose + 2}", "--captions", "srt")
    assert done.returncode == 0, done.stderr
    names = [p.name for p in sorted((tmp_path / "out" / "salt-road").glob("*.mp3"))]
    assert names == [f"01 - {TITLES[1]}.mp3", f"02 - {TITLES[2]}.mp3"]
    wrong = narrator("narrate", epub, "-o", tmp_path / "out2", "--chapters", "40-41")
    assert wrong.returncode == 3 and "--chapters" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1


def one_line_error(done, exit_code=4):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == exit_code, done.stderr
    assert len(lines) == 1 and lines[0].startswith("narrator: error: ") and "Traceback" not in done.stderr
    return lines[0]


def test_an_external_entity_is_one_clear_line_and_reads_nothing(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE")
    doctype = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}">]>'

    def edit(files):
        name = next(n for n in files if n.endswith("chapter 1.xhtml"))
        text = files[name].decode()
        text = re.sub(r"<!DOCTYPE[^>]*>", "", text).replace("<html", doctype + "\n<html", 1)
        files[name] = text.replace("<p>", "<p>&xxe; ", 1).encode()

    epub = write_epub(tmp_path / "hostile.epub", edit=edit)
    line = one_line_error(narrator("narrate", epub, "-o", tmp_path / "out"))
    assert "declares entities" in line and "chapter 1.xhtml" in line and "TOPSECRET" not in line
    assert not (tmp_path / "out").exists()


def test_a_zip_bomb_is_one_clear_line(tmp_path):
    epub = write_zip_bomb(tmp_path / "bomb.epub", "OEBPS/Text/chapter 2.xhtml", 1024)
    line = one_line_error(narrator("narrate", epub, "-o", tmp_path / "out"))
    assert "bomb.epub" in line and ("MiB" in line or "ratio" in line)


def test_an_epub_without_a_container_is_one_clear_line(tmp_path):
    epub = write_epub(tmp_path / "broken.epub", edit=lambda files: files.pop("META-INF/container.xml"))
    line = one_line_error(narrator("narrate", epub, "-o", tmp_path / "out"))
    assert "META-INF/container.xml" in line


def test_check_reports_acx_rules_on_the_copied_audio_and_acx_makes_it_pass(book, tmp_path):
    plain = narrator("check", book / "salt-road")
    assert plain.returncode == 12, plain.stdout + plain.stderr
    assert "128 kbps: 64 kbps below the 192 kbps minimum" in plain.stdout
    epub = write_epub(tmp_path / "salt-road.epub")
    done = narrator("narrate", epub, "-o", tmp_path / "acx", "--acx", "--captions", "srt")
    assert done.returncode == 0, done.stderr
    mastered = narrator("check", tmp_path / "acx" / "salt-road", "--json")
    assert mastered.returncode == 0, mastered.stdout + mastered.stderr
    report = json.loads(mastered.stdout)
    assert report["passed"] and len(report["files"]) == len(TITLES)


def test_m4b_without_ffmpeg_is_one_line_before_anything_is_sent(tmp_path):
    epub = write_epub(tmp_path / "salt-road.epub")
    done = narrator("narrate", epub, "-o", tmp_path / "out", "--format", "m4b",
                    env={"NARRATOR_FFMPEG": str(tmp_path / "no-ffmpeg-here")})
    line = one_line_error(done, exit_code=3)
    assert "NARRATOR_FFMPEG" in line and not (tmp_path / "out").exists()


def quiet_runs(samples, rate, threshold_db=-50.0, tick_ms=10):
    """(start ms, length ms) of each stretch of 10 ms ticks quieter than the threshold."""
    tick = rate * tick_ms // 1000
    x = samples[: len(samples) // tick * tick].astype(np.float64) / 32768
    loud = np.sqrt((x.reshape(-1, tick) ** 2).mean(axis=1)) > 10 ** (threshold_db / 20)
    runs, start = [], None
    for i, is_loud in enumerate(np.append(loud, True)):
        if not is_loud and start is None:
            start = i
        elif is_loud and start is not None:
            runs.append((start * tick_ms, (i - start) * tick_ms))
            start = None
    return runs


def test_a_paragraph_pause_is_that_long_between_every_paragraph_and_the_captions_follow(tmp_path):
    paragraphs = ["The tide turned at noon, and the boats went out.",
                  "Nobody spoke on the quay until evening.",
                  "Then the lamps were lit, one by one, along the wall.",
                  "By night the harbour was quiet again."]
    document = tmp_path / "tide.md"
    document.write_text("# Tide\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    done = narrator("narrate", document, "-o", tmp_path / "out", "--paragraph-pause", "1.5",
                    "--captions", "json")
    assert done.returncode == 0, done.stderr
    chapter = tmp_path / "out" / "tide" / "01 - Tide.mp3"
    samples, rate = decoded(chapter)
    end_ms = len(samples) * 1000 // rate
    # Not the lead-in (from 0) nor the chapter pause (to the end).
    pauses = [(start, length) for start, length in quiet_runs(samples, rate)
              if length >= 1000 and start > 0 and start + length < end_ms - 10]
    assert len(pauses) == len(paragraphs), "after the title and after every paragraph but the last"
    for _, length in pauses:
        assert 1450 <= length <= 1650, "1.5 s of room tone, and the 30 ms kept at each edge"
    words = json.loads(chapter.with_suffix(".json").read_text(encoding="utf-8"))["words"]
    firsts = [next_word["start"] * 1000 for word, next_word in zip(words, words[1:]) if word["paragraph_end"]]
    for (start, length), first in zip(pauses, firsts, strict=True):
        assert abs(first - (start + length)) <= 120, "each paragraph's first word where its speech starts"


def test_files_an_earlier_run_made_and_this_one_does_not_are_removed(tmp_path):
    document, out = tmp_path / "tide.md", tmp_path / "out"
    text = "# Tide\n\n## Morning\n\nThe boats went out.\n\n## Evening\n\nThe lamps were lit.\n"
    document.write_text(text, encoding="utf-8")
    mine = tmp_path / "out" / "tide" / "notes.txt"
    assert narrator("narrate", document, "-o", out, "--captions", "srt", "--captions", "json").returncode == 0
    mine.write_text("the user's own file")
    assert {p.name for p in (out / "tide").glob("*.json")} == {"01 - Morning.json", "02 - Evening.json"}
    document.write_text(text.replace("Evening", "Night"), encoding="utf-8")
    assert narrator("narrate", document, "-o", out, "--captions", "srt").returncode == 0
    assert sorted(p.name for p in (out / "tide").iterdir()) == [
        "01 - Morning.mp3", "01 - Morning.srt", "02 - Night.mp3", "02 - Night.srt", "notes.txt"]
    assert not (out / "tide.json").exists() and (out / "tide.srt").exists()
    assert narrator("narrate", document, "-o", out, "--captions", "srt", "--no-chapter-files").returncode == 0
    assert [p.name for p in (out / "tide").iterdir()] == ["notes.txt"], "only what narrator made is removed"
    assert sorted(p.name for p in out.iterdir()) == [".narrator.lock", ".tide.narrator.json", "tide",
                                                     "tide.mp3", "tide.srt"]


def test_narrate_again_with_the_same_text_and_settings_writes_nothing_unless_forced(tmp_path):
    document, out = tmp_path / "tide.md", tmp_path / "out"
    document.write_text("# Tide\n\nThe boats went out at noon.\n", encoding="utf-8")
    assert narrator("narrate", document, "-o", out, "--acx").returncode == 0
    made = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != ".narrator.lock"}
    again = narrator("narrate", document, "-o", out, "--acx")
    assert again.returncode == 0 and "up to date" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in made} == made
    other = narrator("narrate", document, "-o", out, "--acx", "--chapter-pause", "3")
    assert other.returncode == 0 and "up to date" not in other.stdout
    forced = narrator("narrate", document, "-o", out, "--acx", "--chapter-pause", "3", "--force")
    assert forced.returncode == 0 and "0 characters sent" in forced.stdout
    assert (out / "tide.mp3").stat().st_mtime_ns > made[out / "tide.mp3"]
