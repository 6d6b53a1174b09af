"""Placing words on the book's timeline by counting samples."""

import lameenc
import miniaudio
import pytest

from narrator.book import assemble, layout
from narrator.book.cache import BookSegments, SegmentCache
from narrator.book.timeline import SegmentAudio, TimedWord, segment_audio
from narrator.errors import AudioError
from narrator.protocol.events import Alignment, AudioChunk, Final


def silence_mp3(seconds: float, rate: int = 22050) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_channels(1)
    encoder.set_in_sample_rate(rate)
    encoder.set_out_sample_rate(rate)
    encoder.set_bit_rate(32)
    return bytes(encoder.encode(b"\0\0" * int(seconds * rate)) + encoder.flush())


def aligned(text: str, step_ms: int) -> Alignment:
    """Character times whose sum is deliberately shorter than the audio."""
    return Alignment(tuple(text), tuple(i * step_ms for i in range(len(text))), (step_ms,) * len(text))


def test_a_chunk_is_placed_after_all_audio_before_it_not_after_the_alignment_sum():
    first, second = silence_mp3(1.0), silence_mp3(1.0)
    chunks = [AudioChunk(first, aligned("ab cd ", 10)), AudioChunk(second, aligned("ef gh ", 10))]
    audio = segment_audio(["ab cd ef gh"], chunks)
    first_samples = miniaudio.mp3_read_s16(first).num_frames  # counted by a decoder, not by us
    assert audio.samples == 2 * first_samples
    ef = audio.words[2]
    assert ef.text == "ef" and abs(ef.start - first_samples * 1000 / 22050) < 1e-6
    assert [w.ends_paragraph for w in audio.words] == [False, False, False, True]


def test_without_alignment_words_are_spread_inside_the_chunk():
    audio = segment_audio(["one two three four"], [AudioChunk(silence_mp3(2.0), None)])
    assert audio.estimated
    assert audio.words[0].start == 0 and audio.words[-1].end <= audio.duration_ms
    assert [w.start for w in audio.words] == sorted(w.start for w in audio.words)


def test_service_normalised_text_still_maps_onto_source_words():
    # The service spoke "Dr." as "Doctor": more characters than we sent.
    chunks = [AudioChunk(silence_mp3(1.0), aligned("Doctor Who ", 50))]
    audio = segment_audio(["Dr. Who"], chunks)
    assert [w.text for w in audio.words] == ["Dr.", "Who"]
    assert audio.words[0].start == 0 and audio.words[1].start > 0


def test_ten_hours_of_segments_do_not_drift(tmp_path):
    """2,400 segments of 15.0128 s in 40 chapters: summing rounded
    milliseconds would be off by seconds; counting samples is exact to the
    millisecond, through chapter files and the whole book alike."""
    cache = SegmentCache(tmp_path / "cache")
    rate, samples = 22050, 331_033  # 15.0128 s, not a whole number of ms
    count, per_chapter = 2400, 60
    keys = [f"{index:064x}" for index in range(count)]
    for key in keys:
        cache.put(key, SegmentAudio(b"", samples, rate, (TimedWord("w", 10.0, 20.0, True),), False), 1)
    store = BookSegments(cache, keys)
    chapters = []
    for number in range(count // per_chapter):
        first = number * per_chapter
        pieces, end = layout.copied_pieces([(i, samples) for i in range(first, first + per_chapter)], 0)
        chapters.append(layout.ChapterAudio(f"{number}", pieces, end, rate, rate))
    words = list(assemble.book_words(store, chapters))
    last = words[-1]
    exact_ms = (count - 1) * samples * 1000 / rate + 10.0
    assert len(words) == count and abs(last.start_ms - exact_ms) <= 0.5
    naive = (count - 1) * round(samples * 1000 / rate) + 10
    assert abs(naive - exact_ms) > 100  # the mistake this guards against
    marks = list(layout.book_marks(chapters))
    assert marks[-1][2] == round(count * samples * 1000 / rate)
    assert all(a[2] == b[1] for a, b in zip(marks, marks[1:])), "each chapter starts where the last ended"


def chapter_end_ms(samples: int, rate: int) -> int:
    """The end mark of a one-chapter book of `samples` samples."""
    ((_, _, end),) = layout.book_marks([layout.ChapterAudio("c", (), samples, rate, rate)])
    return end


def test_chapter_marks_round_exact_sample_counts_half_up():
    assert chapter_end_ms(0, 22050) == 0
    assert chapter_end_ms(44100, 44100) == 1000
    assert chapter_end_ms(22050 + 11, 22050) == 1000  # 1000.4988 ms
    assert chapter_end_ms(22050 + 12, 22050) == 1001  # 1000.5442 ms
    assert chapter_end_ms(12, 24000) == 1  # exactly 0.5 ms rounds up


def test_chapter_marks_count_samples_not_rounded_milliseconds():
    # 1000 chapters of one 576-sample frame at 22050 Hz, 26.1224... ms each.
    chapters = [layout.ChapterAudio(f"{n}", (), 576, 22050, 22050) for n in range(1000)]
    assert list(layout.book_marks(chapters))[-1][2] == 26122
    assert sum(chapter_end_ms(576, 22050) for _ in range(1000)) == 26000  # the mistake avoided


def test_a_segment_without_audio_frames_is_refused():
    with pytest.raises(AudioError, match="no audio frames"):
        segment_audio(["one two"], [AudioChunk(b"not audio at all", None)])


def test_a_chunk_without_alignment_gets_the_characters_the_others_did_not_account_for():
    one, two, three = silence_mp3(1.0), silence_mp3(2.0), silence_mp3(1.0)
    chunks = [AudioChunk(one, aligned("aa bb ", 100)), AudioChunk(two, None),
              AudioChunk(three, aligned("ee ", 100))]
    audio = segment_audio(["aa bb cc dd ee"], chunks)
    assert audio.estimated
    first = miniaudio.mp3_read_s16(one).num_frames * 1000 / 22050
    second = miniaudio.mp3_read_s16(two).num_frames * 1000 / 22050
    aa, bb, cc, dd, ee = audio.words
    assert (aa.start, bb.start) == (0, 300), "aligned words keep the service's times"
    # cc and dd share the middle chunk, the only audio that could hold them: 4 characters over its span.
    assert abs(cc.start - first) < 1e-6 and abs(dd.start - (first + second / 2)) < 1e-6
    assert abs(ee.start - (first + second)) < 1e-6


def test_completion_marks_keep_each_paragraphs_words_inside_its_own_audio():
    # Paragraph one is short but got long audio; spread over the whole segment
    # by characters, its words would spill into paragraph two's audio.
    long_one, short_two = silence_mp3(3.0), silence_mp3(1.0)
    chunks = [AudioChunk(long_one, None), Final(), AudioChunk(short_two, None), Final()]
    audio = segment_audio(["Hi there.", "A much longer second paragraph follows here."], chunks)
    split = miniaudio.mp3_read_s16(long_one).num_frames * 1000 / 22050
    first, second = audio.words[:2], audio.words[2:]
    assert all(w.start < split for w in first) and all(split <= w.start for w in second)
    assert second[0].start == split and audio.words[-1].end <= audio.duration_ms


def test_characters_the_alignment_left_out_shift_no_word_and_skipped_words_sit_between_neighbours():
    text = "Co\u00adoperate now \u00a92024 \u2192 \U0001f389 then\u2122 done."
    kept = "".join(c for c in text if c.isalnum() or c in " .")  # what the service aligned
    audio = segment_audio([text], [AudioChunk(silence_mp3(3.0), aligned(kept, 100))])
    words = {w.text: w for w in audio.words}
    assert words["Co\u00adoperate"].start == 0
    assert words["now"].start == 100 * kept.index("now")
    assert words["\u00a92024"].start == 100 * kept.index("2024")  # partly covered: its own digits' time
    assert words["then\u2122"].start == 100 * kept.index("then")
    assert words["done."].start == 100 * kept.index("done")
    # Wholly left out: between "2024" and "then", in order, never outside them.
    arrow, party = words["\u2192"], words["\U0001f389"]
    assert words["\u00a92024"].end <= arrow.start <= arrow.end <= party.start <= party.end \
        <= words["then\u2122"].start
    assert audio.interpolated == 2 and not audio.estimated
    assert all(0 <= w.start <= w.end <= audio.duration_ms for w in audio.words)


def test_a_left_out_word_at_the_end_stays_inside_the_segments_audio():
    audio = segment_audio(["Thanks \U0001f44d"], [AudioChunk(silence_mp3(1.0), aligned("Thanks ", 50))])
    last = audio.words[-1]
    assert audio.interpolated == 1 and audio.words[0].end <= last.start <= last.end <= audio.duration_ms


def test_alignment_entries_of_several_code_points_match_our_characters():
    text = "नमस्ते दुनिया"
    clusters = ("न", "म", "स्", "ते", " ", "दु", "नि", "या")
    alignment = Alignment(clusters, tuple(100 * i for i in range(len(clusters))), (100,) * len(clusters))
    audio = segment_audio([text], [AudioChunk(silence_mp3(1.0), alignment)])
    assert [w.start for w in audio.words] == [0, 500] and audio.interpolated == 0


def test_times_past_the_audio_never_make_a_word_end_before_it_starts():
    audio = segment_audio(["hello world"], [AudioChunk(silence_mp3(0.5), aligned("hello world", 80))])
    assert all(0 <= w.start <= w.end <= audio.duration_ms for w in audio.words)


def test_a_long_paragraph_with_characters_left_out_keeps_every_word_on_its_own_characters():
    # About 30,000 characters in one segment (a paragraph is never split): the match is one linear walk.
    text = " ".join(f"w\u00adord{i % 97}\u2122" for i in range(3000))
    kept = "".join(c for c in text if c.isalnum() or c == " ")
    audio = segment_audio([text], [AudioChunk(silence_mp3(2.0), aligned(kept, 1))])
    starts, at = [], 0
    for word in kept.split(" "):
        starts.append(at)
        at += len(word) + 1
    assert audio.interpolated == 0
    assert [w.start for w in audio.words] == [min(s, audio.duration_ms) for s in starts]
