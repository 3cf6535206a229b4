"""`python -m runtime login/accounts/logout` against a real OAuth server (Authlib, RFC 8628
device grant and rotating refresh tokens) on 127.0.0.1, with no terminal attached."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from actors.accounts import AccountTokenSource
from actors.accounts.actor import AccountActor
from actors.accounts.store import EncryptedFileTokenStore
from config import load_config
from supervisors import ChildSpec, Supervisor
from tests.servers.authlib_identity import running_identity

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY = "a passphrase for tests"


def write_config(tmp_path: Path, url: str, platform: str = "youtube") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[runtime]
data_dir = "data"

[token_store]
kind = "file"
key = {{ env = "STREAMSUITES_TOKEN_KEY" }}

[[accounts]]
id = "bot"
platform = "{platform}"
client_id = "test-client"
scopes = ["chat:read", "chat:edit"]
auth_url = "{url}"
""",
        encoding="utf-8",
    )
    return config


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STREAMSUITES_TOKEN_KEY=KEY, AUTHLIB_INSECURE_TRANSPORT="1")
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal: nothing may be read from it
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_login_completes_the_device_flow_with_no_terminal_and_stores_the_pair(tmp_path):
    with running_identity(approve_after=1) as identity:
        config = write_config(tmp_path, identity.url)
        done = cli("login", "bot", "--config", str(config))
        assert done.returncode == 0, done.stderr
        assert f"{identity.url}/activate" in done.stdout
        assert "enter the code" in done.stdout
        assert "logged in" in done.stdout
        (refresh_token,) = identity.tokens  # the one pair Authlib issued
        stored = EncryptedFileTokenStore(tmp_path / "data" / "accounts" / "tokens.enc", KEY).load(
            "bot"
        )
        assert stored is not None and stored.refresh_token == refresh_token
        assert stored.scopes == {"chat:read", "chat:edit"}
        row = identity.tokens[refresh_token]
        for text in (done.stdout, done.stderr):
            assert row["access_token"] not in text and refresh_token not in text

        listed = cli("accounts", "--config", str(config))
        assert listed.returncode == 0, listed.stderr
        assert "logged_in" in listed.stdout and "chat:edit chat:read" in listed.stdout
        assert row["access_token"] not in listed.stdout and refresh_token not in listed.stdout


def test_the_wrong_token_store_key_stops_the_cli_with_exit_1_naming_token_store(tmp_path):
    with running_identity() as identity:
        config = write_config(tmp_path, identity.url)
        assert cli("login", "bot", "--config", str(config)).returncode == 0
        env = dict(os.environ, STREAMSUITES_TOKEN_KEY="not the key")
        done = subprocess.run(
            [sys.executable, "-m", "runtime", "accounts", "--config", str(config)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert "token_store" in done.stderr and "key does not open" in done.stderr
        assert "not the key" not in done.stderr


async def test_the_account_actor_rotates_single_use_refresh_tokens_on_authlib(tmp_path):
    from runtime.login import login

    with running_identity(approve_after=0) as identity:
        config = load_config(
            write_config(tmp_path, identity.url), environ={"STREAMSUITES_TOKEN_KEY": KEY}
        )
        store = EncryptedFileTokenStore(tmp_path / "data" / "accounts" / "tokens.enc", KEY)
        await login(config, "bot", store, out=lambda _text: None)
        first = store.load("bot")
        assert first is not None
        account = config.accounts[0]
        sup = Supervisor(
            "accounts", [ChildSpec("bot", lambda: AccountActor(account=account, store=store))]
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            source = AccountTokenSource(lambda: sup.ref("bot"))
            token = await source.token()
            assert token.value == first.access_token
            await source.unauthorized(token)  # an API said 401: one refresh
            with trio.fail_after(10):
                for _ in range(1000):  # until the refresh landed (bounded by fail_after)
                    if (await source.token()).value != first.access_token:
                        break
                    await trio.sleep(0.01)
            second = store.load("bot")
            assert second is not None and second.refresh_token != first.refresh_token
            assert first.refresh_token in identity.spent_refresh
            assert (await source.token()).value == second.access_token  # stored before use
            await sup.stop()
