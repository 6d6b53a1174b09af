"""Job files: real TOML on disk, loaded and judged; nothing is narrated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from narrator.errors import ConfigError, ExitCode
from narrator.jobs.jobfile import JOB_KEYS, find_jobs, load_job
from narrator.settings import SETTINGS
from tests.helpers import ROOT

DOC = "# A Title\n\nA first paragraph of plain prose.\n"


@pytest.fixture
def layout(tmp_path):
    """tmp/jobs/ for job files, tmp/docs/ with documents; paths in a job are relative to tmp/jobs/."""
    (tmp_path / "jobs").mkdir()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "one.md").write_text(DOC)
    (docs / "two.txt").write_text("Two. Plain text with a sentence.\n")
    return tmp_path


def job(layout: Path, body: str, name: str = "job.toml",
        head: str = 'input = "../docs/one.md"\noutput = "../out"\n') -> Path:
    path = layout / "jobs" / name
    path.write_text(head + body)
    return path


def refused(path: Path) -> str:
    """The ConfigError's message: one line that names the file."""
    with pytest.raises(ConfigError) as caught:
        load_job(path, progress=False)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    assert caught.value.exit_code == ExitCode.CONFIG
    return message


# A good job


def test_paths_are_relative_to_the_job_file_not_the_working_folder(layout, monkeypatch):
    elsewhere = layout / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = job(layout, "", head='inputs = ["../docs/one.md", "../docs/two.txt"]\noutput = "../out/books"\n')
    loaded = load_job(path, progress=False)
    assert [p.resolve() for p in loaded.inputs] == [layout / "docs" / "one.md", layout / "docs" / "two.txt"]
    assert all(p.is_file() for p in loaded.inputs)
    assert loaded.output.resolve() == layout / "out" / "books"
    assert loaded.options.out_dir.resolve() == layout / "out" / "books"
    assert loaded.name == "job"
    assert not (elsewhere / "out").exists() and not (layout / "out").exists(), "loading makes no folder"


def test_a_relative_job_path_works_from_its_parent_folder(layout, monkeypatch):
    monkeypatch.chdir(layout)
    job(layout, "")
    loaded = load_job(Path("jobs/job.toml"), progress=False)
    assert [p.resolve() for p in loaded.inputs] == [layout / "docs" / "one.md"]
    assert loaded.output.resolve() == layout / "out"


def test_a_folder_input_expands_to_its_documents_in_name_order(layout, monkeypatch):
    shelf = layout / "shelf"
    shelf.mkdir()
    for name in ("c.md", "a.txt", "b.md", "notes.pdf", "cover.png", "README"):
        (shelf / name).write_text(DOC)
    monkeypatch.chdir(layout / "docs")
    loaded = load_job(job(layout, "", head='input = "../shelf"\noutput = "../out"\n'), progress=False)
    assert [p.name for p in loaded.inputs] == ["a.txt", "b.md", "c.md"]
    assert all(p.resolve().parent == shelf for p in loaded.inputs)


def test_settings_reach_the_narrate_options(layout):
    loaded = load_job(job(layout, 'voice = "en-gb"\nconcurrency = 3\ncaptions = ["srt"]\ntitles = false\n'
                                  'timeout = 12\nbudget = 5000\nplan = "free"\n'), progress=False)
    options = loaded.options
    assert options.provider == "local"
    assert options.voice == "en-gb" and options.concurrency == 3 and options.captions == ("srt",)
    assert options.speak_titles is False and options.stall_timeout == 12
    assert loaded.budget == 5000 and loaded.plan == "free" and loaded.check_quota is False


def test_defaults_when_a_job_names_no_settings(layout):
    options = load_job(job(layout, ""), progress=False).options
    assert options.provider == "local" and options.voice is None
    assert options.concurrency == 4 and options.captions == ("srt", "vtt") and options.speak_titles is True
    assert load_job(job(layout, ""), progress=False).budget is None


def test_elevenlabs_settings_reach_the_stream_settings(layout):
    loaded = load_job(job(layout, 'provider = "elevenlabs"\nendpoint = "ws://127.0.0.1:9"\nstability = 0.4\n'
                                  'speed = 1.1\nspeaker_boost = true\nchunk_schedule = [100, 200]\nseed = 7\n'
                                  'language = "de"\ncheck_quota = true\n'), progress=False)
    options = loaded.options
    assert options.provider == "elevenlabs" and options.endpoint == "ws://127.0.0.1:9"
    assert options.service_endpoint() == "ws://127.0.0.1:9"
    voice = options.stream.voice_settings
    assert voice.stability == 0.4 and voice.speed == 1.1 and voice.use_speaker_boost is True
    assert voice.similarity_boost is None and voice.style is None
    assert options.stream.chunk_length_schedule == (100, 200)
    assert options.stream.seed == 7 and options.stream.language_code == "de"
    assert options.speaking_speed() == 1.1
    assert loaded.check_quota is True


def test_sarvam_settings_reach_the_sarvam_settings(layout):
    options = load_job(job(layout, 'provider = "sarvam"\nvoice = "anushka"\npace = 1.3\n'
                                   'language = "hi-IN"\n'),
                       progress=False).options
    assert options.provider == "sarvam"
    assert options.sarvam_settings.pace == 1.3 and options.speaking_speed() == 1.3
    assert options.sarvam_settings.language_code == "hi-IN"
    assert options.service_settings().speaker == "anushka"


def test_every_setting_is_a_job_key():
    assert set(SETTINGS) <= set(JOB_KEYS)
    assert {"input", "inputs", "output", "budget", "plan", "check_quota"} <= set(JOB_KEYS)


# One ConfigError line naming the file and the key


def test_an_unknown_key_near_a_known_one_gets_a_hint(layout):
    message = refused(job(layout, "stabilty = 0.5\n"))
    assert "unknown key 'stabilty'" in message and "did you mean stability?" in message


def test_an_unknown_key_far_from_any_gets_no_hint(layout):
    message = refused(job(layout, 'colour = "red"\n'))
    assert "unknown key 'colour'" in message and "did you mean" not in message
    assert "known keys:" in message and "voice" in message


@pytest.mark.parametrize("body, key, kind", [
    ('concurrency = "four"', "concurrency", "a whole number"),
    ("concurrency = 2.5", "concurrency", "a whole number"),
    ("titles = 1", "titles", "true or false"),
    ('chunk_schedule = [1, "a"]', "chunk_schedule", "a list of whole numbers"),
    ('captions = "srt"', "captions", "a list of texts"),
    ("voice = 3", "voice", "a text"),
    ('stability = "high"', "stability", "a number"),
    ("seed = true", "seed", "a whole number"),
    ("budget = 1.5", "budget", "a whole number"),
])
def test_a_value_of_the_wrong_type(layout, body, key, kind):
    message = refused(job(layout, body + "\n"))
    assert f"{key} = " in message and f"must be {kind}" in message


@pytest.mark.parametrize("body, key, allowed", [
    ('provider = "elevenlabs"\nstability = 2', "stability", "from 0 to 1"),
    ('provider = "elevenlabs"\nspeed = 1.5', "speed", "from 0.7 to 1.2"),
    ("concurrency = 0", "concurrency", "from 1 to 64"),
    ("concurrency = 65", "concurrency", "from 1 to 64"),
    ("timeout = 0.5", "timeout", "from 1 to 600"),
    ("budget = 0", "budget", "1 or more"),
    ('provider = "sarvam"\npace = 9', "pace", "0.3"),
])
def test_a_value_out_of_range(layout, body, key, allowed):
    message = refused(job(layout, body + "\n"))
    assert key in message and allowed in message


def test_an_unknown_provider_or_caption_format(layout):
    assert "unknown provider 'azure'" in refused(job(layout, 'provider = "azure"\n'))
    message = refused(job(layout, 'captions = ["srt", "txt"]\n'))
    assert "caption format 'txt'" in message and "srt, vtt, ass, json" in message


@pytest.mark.parametrize("key", ["api_key", "ELEVENLABS_API_KEY", "sarvam_token", "secret", "password"])
def test_a_secret_looking_key_is_refused_without_showing_its_value(layout, key):
    value = "sk-live-0123456789abcdef"
    message = refused(job(layout, f'{key} = "{value}"\n'))
    assert value not in message and "0123456789" not in message
    assert f"{key}: keys never go in job files" in message
    assert "ELEVENLABS_API_KEY or SARVAM_API_KEY" in message


def test_a_secret_nested_under_a_known_key_is_not_shown(layout):
    value = "sk-live-nested-0123456789"
    message = refused(job(layout, f'[voice]\napi_key = "{value}"\n'))
    assert "voice" in message and value not in message


def test_output_is_required(layout):
    message = refused(job(layout, "", head='input = "../docs/one.md"\nvoice = "en"\n'))
    assert "output is missing" in message


@pytest.mark.parametrize("head", [
    'input = "../docs/one.md"\ninputs = ["../docs/two.txt"]\noutput = "../out"\n',
    'output = "../out"\nvoice = "en"\n',
])
def test_exactly_one_of_input_and_inputs(layout, head):
    message = refused(job(layout, "", head=head))
    assert 'input = "FILE or FOLDER"' in message and "inputs = [...]" in message and "one of them" in message


def test_an_empty_list_of_inputs_is_refused(layout):
    message = refused(job(layout, "", head='inputs = []\noutput = "../out"\n'))
    assert "inputs" in message


def test_an_input_that_does_not_exist(layout):
    message = refused(job(layout, "",
                          head='inputs = ["../docs/one.md", "../docs/missing.md"]\noutput = "../out"\n'))
    assert "input '../docs/missing.md': no such file or folder" in message
    # and where it was looked for, from the job file's folder (however the path is spelled)
    looked = message.rsplit("(", 1)[1].rstrip(")")
    assert Path(looked).resolve() == layout / "docs" / "missing.md"


def test_a_folder_input_without_documents(layout):
    (layout / "empty").mkdir()
    (layout / "empty" / "cover.png").write_bytes(b"\x89PNG")
    message = refused(job(layout, "", head='input = "../empty"\noutput = "../out"\n'))
    assert "input '../empty': no documents" in message and ".md" in message


def test_two_inputs_with_the_same_stem(layout):
    (layout / "other").mkdir()
    (layout / "other" / "one.txt").write_text("Another one.\n")
    message = refused(job(layout, "",
                          head='inputs = ["../docs/one.md", "../other/one.txt"]\noutput = "../out"\n'))
    assert "inputs one would write the same book files" in message and "rename one" in message


def test_invalid_toml(layout):
    message = refused(job(layout, 'voice = "en\n'))
    assert "not valid TOML" in message and "line 3" in message


def test_a_file_that_is_not_utf8(layout):
    path = layout / "jobs" / "latin.toml"
    path.write_bytes('input = "../docs/one.md"\noutput = "../out"\nvoice = "caf\xe9"\n'.encode("latin-1"))
    message = refused(path)
    assert "cannot read it" in message or "not valid TOML" in message


@pytest.mark.parametrize("body, key", [
    ('provider = "elevenlabs"\npace = 1.2', "pace"),
    ("pace = 1.2", "pace"),  # local is no Sarvam either
    ('provider = "elevenlabs"\nsample_rate = 16000', "sample_rate"),
])
def test_sarvam_options_given_to_another_provider(layout, body, key):
    message = refused(job(layout, body + "\n"))
    assert key in message and "sarvam" in message


def test_elevenlabs_options_given_to_sarvam_name_the_key(layout):
    message = refused(job(layout, 'provider = "sarvam"\nstability = 0.5\n'))
    assert "sarvam" in message and "stability" in message


def test_endpoint_with_the_local_provider(layout):
    message = refused(job(layout, 'endpoint = "ws://127.0.0.1:9"\n'))
    assert "--endpoint" in message and "--provider elevenlabs or sarvam" in message


# find_jobs


def test_find_jobs_gives_a_folders_toml_files_in_name_order(tmp_path):
    for name in ("b.toml", "a.toml", "c.toml", "notes.txt", "a.toml.bak"):
        (tmp_path / name).write_text("")
    (tmp_path / "d.toml").mkdir()  # a folder, not a job
    assert find_jobs(tmp_path) == [tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "c.toml"]
    assert find_jobs(tmp_path / "b.toml") == [tmp_path / "b.toml"]


def test_find_jobs_refuses_an_empty_folder_and_a_missing_path(tmp_path):
    (tmp_path / "readme.txt").write_text("no jobs here")
    with pytest.raises(ConfigError, match="no job files") as caught:
        find_jobs(tmp_path)
    assert str(caught.value).startswith(str(tmp_path)) and caught.value.exit_code == ExitCode.CONFIG
    with pytest.raises(ConfigError, match="no such job file or folder") as caught:
        find_jobs(tmp_path / "missing.toml")
    assert str(tmp_path / "missing.toml") in str(caught.value)


# The shipped example


def test_the_shipped_example_loads(tmp_path, monkeypatch):
    (tmp_path / "jobs").mkdir()
    shutil.copy(ROOT / "jobs" / "example.toml", tmp_path / "jobs" / "example.toml")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    monkeypatch.chdir(tmp_path / "samples")
    loaded = load_job(tmp_path / "jobs" / "example.toml", progress=False)
    assert [p.resolve() for p in loaded.inputs] == [tmp_path / "samples" / "lighthouse.md"]
    assert loaded.output.resolve() == tmp_path / "out" / "example"
    assert loaded.options.provider == "local" and loaded.options.voice == "en"
    assert loaded.options.captions == ("srt", "vtt") and loaded.options.concurrency == 4
    assert loaded.budget == 100000 and loaded.plan is None and loaded.check_quota is False
    assert find_jobs(tmp_path / "jobs") == [tmp_path / "jobs" / "example.toml"]
