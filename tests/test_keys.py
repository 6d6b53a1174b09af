"""Keys are read from the environment or .env and redacted from any text."""

import logging

from narrator import keys


def test_a_key_from_the_environment_wins_over_dotenv(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("export SOME_KEY='from-dotenv-123'\n")
    assert keys.api_key("SOME_KEY", dotenv) == "from-dotenv-123"
    monkeypatch.setenv("SOME_KEY", "from-env-456")
    assert keys.api_key("SOME_KEY", dotenv) == "from-env-456"
    assert keys.api_key("OTHER_KEY", dotenv) is None


def test_every_key_read_is_redacted_from_text(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_KEY", "sk-echoed-secret-789")
    keys.api_key("ECHO_KEY", tmp_path / ".env")
    echoed = 'invalid request {"xi_api_key": "sk-echoed-secret-789", "text": "hi"}'
    assert keys.redact(echoed) == 'invalid request {"xi_api_key": "[redacted]", "text": "hi"}'


def test_log_lines_are_redacted(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("LOG_KEY", "sk-logged-secret-321")
    keys.api_key("LOG_KEY", tmp_path / ".env")
    logger = logging.getLogger("narrator.test-redaction")
    logger.addFilter(keys.RedactingFilter())
    with caplog.at_level(logging.INFO, logger="narrator.test-redaction"):
        logger.info("the service said: %s", "bad key sk-logged-secret-321")
    assert caplog.messages == ["the service said: bad key [redacted]"]
