"""`run` checks the token store before anything starts: exit 1 naming `token_store`."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from actors.accounts.store import EncryptedFileTokenStore, StoredToken
from config import load_config
from runtime.app import check_token_store
from runtime.cli import main

CONFIG = """
[runtime]
data_dir = "data"

[http]
enabled = false

[token_store]
kind = "file"
key = { env = "STREAMSUITES_TOKEN_KEY" }

[[accounts]]
id = "bot"
platform = "twitch"
client_id = "c"
"""


def test_run_with_the_wrong_token_store_key_exits_1_naming_token_store(
    tmp_path: Path, monkeypatch, capsys
):
    from datetime import UTC, datetime

    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    store = EncryptedFileTokenStore(tmp_path / "data" / "accounts" / "tokens.enc", "right key")
    store.save(
        "bot",
        StoredToken(
            access_token="tok",
            refresh_token="ref",
            expires_at=None,
            scopes=frozenset(),
            obtained_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
    )
    monkeypatch.setenv("STREAMSUITES_TOKEN_KEY", "wrong key")
    assert main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "token_store" in err and "key does not open" in err
    assert not (tmp_path / "data" / "runtime.pid").exists()  # stopped before the PID file


def test_a_static_token_warns_that_it_will_not_be_refreshed(tmp_path: Path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(
        '[[creators]]\nid = "d"\n[creators.twitch]\nchannel = "d"\ntoken = { env = "T" }\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("T", "static-token-value")
    with capture_logs() as logs:
        check_token_store(load_config(config))
    (warning,) = [entry for entry in logs if entry["log_level"] == "warning"]
    assert "will not be refreshed" in warning["event"]
    assert warning["key"] == "creators[0].twitch.token"
    assert "static-token-value" not in repr(logs)


def test_no_accounts_means_no_token_store_is_opened(tmp_path: Path, monkeypatch):
    from actors.accounts import store as store_module

    opened: list[str] = []
    monkeypatch.setattr(store_module.KeyringTokenStore, "check", lambda self: opened.append("x"))
    config = tmp_path / "config.toml"
    config.write_text('[token_store]\nkind = "keyring"\n', encoding="utf-8")
    check_token_store(load_config(config))
    assert opened == []
    monkeypatch.setenv("STREAMSUITES_TOKEN_KEY", "unused by the keyring store")
    config.write_text(CONFIG.replace('kind = "file"', 'kind = "keyring"'), encoding="utf-8")
    check_token_store(load_config(config))
    assert opened == ["x"]
