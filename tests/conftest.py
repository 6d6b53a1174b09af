"""Shared fixtures."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory):
    """Never the user's cache. Module-scoped fixtures narrate into this one."""
    os.environ["NARRATOR_CACHE"] = str(tmp_path_factory.mktemp("session-cache"))


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path_factory, monkeypatch):
    """Each test starts from an empty segment cache (CLI subprocesses inherit it),
    so no test is served by what another one made."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("NARRATOR_CACHE", str(path))
    return path


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "test-key-123")
    return "test-key-123"
