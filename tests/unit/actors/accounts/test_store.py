"""Token stores: the encrypted file (wrong key, corrupt file, interrupted write) and keyring."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from actors.accounts.store import (
    KEYRING_ENTRY_LIMIT,
    EncryptedFileTokenStore,
    KeyringTokenStore,
    StoredToken,
    TokenStoreError,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FAST = 2**10  # a cheap scrypt cost for tests; the default is 2**15


def token(n: int) -> StoredToken:
    return StoredToken(
        access_token=f"access-secret-{n}",
        refresh_token=f"refresh-secret-{n}",
        expires_at=NOW + timedelta(hours=4),
        scopes=frozenset({"chat:read"}),
        obtained_at=NOW,
        login="daniel",
        user_id="42",
    )


def test_file_store_round_trips_and_keeps_no_token_in_clear(tmp_path: Path):
    store = EncryptedFileTokenStore(tmp_path / "tokens.enc", "pass phrase", scrypt_n=FAST)
    store.check()
    store.save("bot", token(1))
    store.save("caster", token(2))
    again = EncryptedFileTokenStore(tmp_path / "tokens.enc", "pass phrase", scrypt_n=FAST)
    assert again.load("bot") == token(1)
    assert again.load("caster") == token(2)
    assert again.load("nobody") is None
    raw = (tmp_path / "tokens.enc").read_bytes()
    assert b"secret" not in raw and b"daniel" not in raw
    assert json.loads(raw)["kdf"] == "scrypt"


def test_file_store_with_the_wrong_key_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "t.enc"
    EncryptedFileTokenStore(path, "correct-horse", scrypt_n=FAST).save("bot", token(1))
    wrong = EncryptedFileTokenStore(path, "battery-staple", scrypt_n=FAST)
    with pytest.raises(TokenStoreError, match="key does not open") as caught:
        wrong.check()
    assert "horse" not in str(caught.value) and "staple" not in str(caught.value)
    assert "secret" not in str(caught.value)


def test_a_corrupt_or_altered_file_is_reported_not_crashed_on(tmp_path: Path):
    path = tmp_path / "t.enc"
    store = EncryptedFileTokenStore(path, "k", scrypt_n=FAST)
    store.save("bot", token(1))
    doc = json.loads(path.read_bytes())
    ciphertext = bytearray(doc["ciphertext"].encode())
    ciphertext[5] = ord("A") if ciphertext[5] != ord("A") else ord("B")
    doc["ciphertext"] = ciphertext.decode()
    path.write_text(json.dumps(doc))
    with pytest.raises(TokenStoreError, match="wrong key, or the file was altered"):
        EncryptedFileTokenStore(path, "k", scrypt_n=FAST).load("bot")
    for junk in (b"not json", b"{}", b'{"format": "streamsuites-tokens-v1", "salt": 5}', b"\xff"):
        path.write_bytes(junk)
        with pytest.raises(TokenStoreError, match="not a readable token store"):
            EncryptedFileTokenStore(path, "k", scrypt_n=FAST).check()


def test_a_crash_during_the_write_leaves_the_previous_pair_readable(tmp_path: Path, monkeypatch):
    path = tmp_path / "t.enc"
    store = EncryptedFileTokenStore(path, "k", scrypt_n=FAST)
    store.save("bot", token(1))

    def crash(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(TokenStoreError, match="cannot write"):
        store.save("bot", token(2))
    monkeypatch.undo()
    assert EncryptedFileTokenStore(path, "k", scrypt_n=FAST).load("bot") == token(1)
    # No temporary file left (the lock file stays: removing it would race another locker).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.enc", "t.enc.lock"]
    store.save("bot", token(2))  # the retry the account actor makes
    assert EncryptedFileTokenStore(path, "k", scrypt_n=FAST).load("bot") == token(2)


def test_each_save_uses_a_fresh_nonce_and_keeps_the_salt(tmp_path: Path):
    path = tmp_path / "t.enc"
    store = EncryptedFileTokenStore(path, "k", scrypt_n=FAST)
    store.save("bot", token(1))
    first = json.loads(path.read_bytes())
    store.save("bot", token(1))
    second = json.loads(path.read_bytes())
    assert first["salt"] == second["salt"]
    assert first["nonce"] != second["nonce"]


class DictKeyring:
    """A keyring backend in memory (the `keyring` backend interface used by the store)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, name: str) -> str | None:
        return self.entries.get((service, name))

    def set_password(self, service: str, name: str, value: str) -> None:
        self.entries[(service, name)] = value

    def delete_password(self, service: str, name: str) -> None:
        del self.entries[(service, name)]


def test_keyring_store_keeps_one_entry_per_token_under_the_windows_limit():
    backend = DictKeyring()
    store = KeyringTokenStore(backend=backend)
    store.save("bot", token(1))
    assert store.load("bot") == token(1)
    names = sorted(name for _service, name in backend.entries)
    assert names == ["bot:access", "bot:details", "bot:refresh"]
    for value in backend.entries.values():
        assert len(value.encode("utf-16-le")) <= KEYRING_ENTRY_LIMIT
    store.delete("bot")
    assert store.load("bot") is None and not backend.entries


def test_keyring_store_refuses_an_entry_over_the_limit_instead_of_failing_later():
    store = KeyringTokenStore(backend=DictKeyring())
    huge = StoredToken(
        access_token="x" * 2000,
        refresh_token=None,
        expires_at=None,
        scopes=frozenset(),
        obtained_at=NOW,
    )
    with pytest.raises(TokenStoreError, match="2560 bytes"):
        store.save("bot", huge)


def test_an_unusable_keyring_backend_is_a_clear_error():
    from keyring.backends.fail import Keyring as FailKeyring

    with pytest.raises(TokenStoreError, match='kind = "file"'):
        KeyringTokenStore(backend=FailKeyring()).check()


SAVER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from actors.accounts.store import EncryptedFileTokenStore, StoredToken

path, worker = Path(sys.argv[1]), sys.argv[2]
store = EncryptedFileTokenStore(path, "correct horse", scrypt_n=2**10)
for n in range(12):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    store.save(
        f"{worker}-{n}",
        StoredToken(access_token=f"a-{worker}-{n}", refresh_token=f"r-{worker}-{n}",
                    expires_at=None, scopes=frozenset(), obtained_at=now),
    )
"""


def test_saves_from_processes_at_once_keep_every_account(tmp_path: Path):
    # A `login` in one process and a refresh in the running service each read, change and
    # write the whole file: without the lock one of them silently undoes the other's account.
    import subprocess
    import sys

    path = tmp_path / "tokens.enc"
    root = Path(__file__).resolve().parents[4]
    workers = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(path), f"w{w}"], cwd=root)
        for w in range(4)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0, 0]
    store = EncryptedFileTokenStore(path, "correct horse", scrypt_n=FAST)
    for w in range(4):
        for n in range(12):
            loaded = store.load(f"w{w}-{n}")
            assert loaded is not None and loaded.refresh_token == f"r-w{w}-{n}"


def test_saves_from_threads_at_once_keep_every_account(tmp_path: Path):
    import threading

    store = EncryptedFileTokenStore(tmp_path / "tokens.enc", "correct horse", scrypt_n=FAST)
    store.save("first", token(0))  # the salt exists before the threads race

    def save(w: int) -> None:
        for n in range(10):
            store.save(f"t{w}-{n}", token(n))

    threads = [threading.Thread(target=save, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for w in range(4):
        for n in range(10):
            loaded = store.load(f"t{w}-{n}")
            assert loaded is not None and loaded.access_token == f"access-secret-{n}"


def test_a_change_while_another_holds_the_lock_waits_then_says_why(tmp_path: Path):
    import filelock

    store = EncryptedFileTokenStore(
        tmp_path / "tokens.enc", "correct horse", scrypt_n=FAST, lock_timeout=0.05
    )
    store.save("daniel", token(1))
    other = filelock.FileLock(store.lock_path)  # another process's change, still running
    with other:
        with pytest.raises(TokenStoreError, match="stayed locked by another change") as caught:
            store.save("daniel", token(2))
        with pytest.raises(TokenStoreError, match="stayed locked"):
            store.delete("daniel")
    assert "secret" not in str(caught.value)
    loaded = store.load("daniel")
    assert loaded is not None and loaded.access_token == "access-secret-1"
    store.save("daniel", token(2))  # released: the change goes through
    loaded = store.load("daniel")
    assert loaded is not None and loaded.access_token == "access-secret-2"
