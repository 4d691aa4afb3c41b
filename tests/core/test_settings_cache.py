"""Settings' URL and key checks are cached per (settings, environment): they follow the environment."""

import pytest

from or_magic.core.errors import ConfigError
from or_magic.core.secrets import sendable_key
from or_magic.core.settings import Settings


def test_base_url_checks_follow_the_environment(monkeypatch):
    s = Settings()
    monkeypatch.setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:8080/v1")
    assert s.base_url_problem() is None and s.sends_key() and not s.needs_key()
    monkeypatch.setenv("OPENROUTER_BASE_URL", "ftp://example.com")
    assert "$OPENROUTER_BASE_URL" in s.base_url_problem()
    monkeypatch.setenv("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
    assert s.base_url_problem() is None and s.needs_key()
    monkeypatch.delenv("OPENROUTER_BASE_URL")
    assert s.base_url_problem() is None and s.resolved_base_url() == "https://openrouter.ai/api/v1"
    assert "base_url" in Settings(base_url=" http://x").base_url_problem()


def test_who_gets_the_key_follows_the_opt_in_variable(monkeypatch):
    s = Settings(base_url="https://llm.example.com/v1")
    monkeypatch.delenv("OR_MAGIC_SEND_KEY_TO", raising=False)
    assert not s.sends_key()
    monkeypatch.setenv("OR_MAGIC_SEND_KEY_TO", "other.org, LLM.example.com")
    assert s.sends_key() and s.key_hosts() == {"other.org", "llm.example.com"}
    monkeypatch.setenv("OR_MAGIC_SEND_KEY_TO", "")
    assert not s.sends_key()
    assert Settings(base_url="https://llm.example.com/v1", send_key_to_hosts=("llm.example.com",)).sends_key()


@pytest.mark.parametrize("bad", ["sk-or-v1-abc\x00", "sk-or-v1-é", "sk\tor", "sk-or-v1-\x7f"])
def test_unsendable_keys_are_refused_without_quoting_them(bad):
    with pytest.raises(ConfigError) as err:
        sendable_key(bad, "MY_KEY")
    assert "$MY_KEY" in str(err.value) and bad.strip() not in str(err.value)


def test_printable_ascii_keys_pass_stripped():
    assert sendable_key("  sk-or-v1-a b~!  \r\n", "K") == "sk-or-v1-a b~!"
    assert sendable_key("   ", "K") is None and sendable_key(None, "K") is None
