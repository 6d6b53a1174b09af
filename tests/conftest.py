"""Shared fixtures."""

import pytest


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("ELEVENLABS_API_KEY", "test-key-123")
    return "test-key-123"
