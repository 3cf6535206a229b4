"""Where tokens live at rest: the OS keyring, or an encrypted file in the data folder.

`KeyringTokenStore` keeps one keyring entry per token (access, refresh) plus one for the
non-secret details, so each stays far below Windows Credential Manager's 2,560-byte limit
(keyring writes UTF-16 there). `EncryptedFileTokenStore` is for services without a keyring
(a systemd unit has no session bus): one file, AES-GCM, the key derived with scrypt from a
passphrase and a random salt kept in the file, written atomically (`exports.atomic`). Every
change to it is a read, change and write under a lock file beside it (`tokens.enc.lock`), so a
`login` in one process and a token refresh in the running service never undo each other.

Both are blocking; the account actor calls them from a worker thread. Errors are
`TokenStoreError` with a sentence that names the store, never a token.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import attrs
import filelock

from config.models import TokenStoreConfig
from exports.atomic import read_bytes_or_none, write_atomic

KEYRING_SERVICE = "streamsuites-runtime"
#: Windows Credential Manager's blob limit, in bytes (keyring stores UTF-16 there).
KEYRING_ENTRY_LIMIT = 2560
FILE_NAME = "tokens.enc"
FILE_FORMAT = "streamsuites-tokens-v1"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
#: How long a change to the token file waits for another one (a `login`, a refresh) to end.
LOCK_TIMEOUT_SECONDS = 30.0


class TokenStoreError(Exception):
    """The token store cannot be used (unreachable, wrong key, corrupt). Never names a token."""


@attrs.frozen(kw_only=True)
class StoredToken:
    """One account's token pair and what is known about it. `repr` hides both tokens."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(repr=False)
    expires_at: datetime | None
    scopes: frozenset[str]
    obtained_at: datetime
    user_id: str | None = None
    login: str | None = None
    last_refresh: datetime | None = None
    last_validation: datetime | None = None
    needs_login: str | None = None  # why the pair is dead (kept so `accounts` can say it)

    def details(self) -> dict[str, Any]:
        """The non-secret part as JSON-able values."""

        def ts(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "expires_at": ts(self.expires_at),
            "scopes": sorted(self.scopes),
            "obtained_at": ts(self.obtained_at),
            "user_id": self.user_id,
            "login": self.login,
            "last_refresh": ts(self.last_refresh),
            "last_validation": ts(self.last_validation),
            "needs_login": self.needs_login,
        }

    @classmethod
    def from_parts(
        cls, access_token: str, refresh_token: str | None, details: dict[str, Any]
    ) -> StoredToken:
        """Rebuild from `details()` and the two tokens; `ValueError` on bad data."""

        def ts(key: str) -> datetime | None:
            value = details.get(key)
            if value is None:
                return None
            parsed = datetime.fromisoformat(str(value))
            if parsed.tzinfo is None:
                raise ValueError(f"{key} has no time zone")
            return parsed

        def text(key: str) -> str | None:
            value = details.get(key)
            return value if isinstance(value, str) else None

        obtained = ts("obtained_at")
        if obtained is None:
            raise ValueError("obtained_at is missing")
        scopes = details.get("scopes") or []
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("scopes is not a list of strings")
        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=ts("expires_at"),
            scopes=frozenset(scopes),
            obtained_at=obtained,
            user_id=text("user_id"),
            login=text("login"),
            last_refresh=ts("last_refresh"),
            last_validation=ts("last_validation"),
            needs_login=text("needs_login"),
        )


class TokenStore(Protocol):
    """A place for token pairs, by account id (blocking calls)."""

    def check(self) -> None:
        """Raise `TokenStoreError` when the store cannot be used (run at start)."""
        ...

    def load(self, account_id: str) -> StoredToken | None:
        """The stored pair, or `None` when the account never logged in."""
        ...

    def save(self, account_id: str, token: StoredToken) -> None:
        """Store the pair durably before returning."""
        ...

    def delete(self, account_id: str) -> None:
        """Forget the account's tokens."""
        ...


# --- keyring -------------------------------------------------------------------------------------


class KeyringTokenStore:
    """One keyring entry per token: `<account>:access`, `<account>:refresh`, `<account>:details`."""

    def __init__(self, service: str = KEYRING_SERVICE, backend: Any = None) -> None:
        self.service = service
        self._backend = backend

    def _keyring(self) -> Any:
        if self._backend is not None:
            return self._backend
        try:
            import keyring
        except ImportError:
            raise TokenStoreError("the 'keyring' package is not installed") from None
        return keyring.get_keyring()

    def describe(self) -> str:
        return f"the OS keyring (service {self.service!r})"

    def check(self) -> None:
        backend = self._keyring()
        name = type(backend).__module__ + "." + type(backend).__name__
        if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
            raise TokenStoreError(
                f"no usable OS keyring ({name}); on a server without a desktop session set "
                '[token_store] kind = "file" with key = { env = "STREAMSUITES_TOKEN_KEY" }'
            )
        try:
            backend.get_password(self.service, "probe")
        except Exception as exc:
            raise TokenStoreError(
                f"the OS keyring cannot be read ({type(exc).__name__}); use "
                '[token_store] kind = "file" where no keyring is available'
            ) from None

    def _get(self, name: str) -> str | None:
        try:
            value = self._keyring().get_password(self.service, name)
        except Exception as exc:
            raise TokenStoreError(
                f"reading keyring entry {name!r} failed: {type(exc).__name__}"
            ) from None
        return None if value is None else str(value)

    def _set(self, name: str, value: str) -> None:
        if len(value.encode("utf-16-le")) > KEYRING_ENTRY_LIMIT:
            raise TokenStoreError(
                f"keyring entry {name!r} would exceed {KEYRING_ENTRY_LIMIT} bytes; "
                'use [token_store] kind = "file"'
            )
        try:
            self._keyring().set_password(self.service, name, value)
        except Exception as exc:
            raise TokenStoreError(
                f"writing keyring entry {name!r} failed: {type(exc).__name__}"
            ) from None

    def load(self, account_id: str) -> StoredToken | None:
        access = self._get(f"{account_id}:access")
        details = self._get(f"{account_id}:details")
        if access is None or details is None:
            return None
        refresh = self._get(f"{account_id}:refresh")
        try:
            return StoredToken.from_parts(access, refresh or None, json.loads(details))
        except (ValueError, TypeError, AttributeError) as exc:
            raise TokenStoreError(
                f"keyring entry {account_id + ':details'!r} is damaged ({exc}); "
                f"run python -m runtime login {account_id}"
            ) from None

    def save(self, account_id: str, token: StoredToken) -> None:
        # The refresh token first: it is the one a crash must not lose (single-use tokens).
        self._set(f"{account_id}:refresh", token.refresh_token or "")
        self._set(f"{account_id}:access", token.access_token)
        self._set(f"{account_id}:details", json.dumps(token.details(), sort_keys=True))

    def delete(self, account_id: str) -> None:
        for part in ("access", "refresh", "details"):
            try:
                self._keyring().delete_password(self.service, f"{account_id}:{part}")
            except Exception:  # absent entries raise PasswordDeleteError
                continue


# --- encrypted file ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a base64 string")
    return base64.b64decode(text.encode("ascii"), validate=True)


class EncryptedFileTokenStore:
    """All accounts in one AES-GCM file; key = scrypt(passphrase, salt from the file)."""

    def __init__(
        self,
        path: Path,
        passphrase: str,
        *,
        scrypt_n: int = SCRYPT_N,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ) -> None:
        if not passphrase:
            raise TokenStoreError("the token store key is empty")
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        # Per thread: the account actor saves from worker threads, and each holder must wait
        # for the others (the lock is on the file, so other processes wait too).
        self._lock = filelock.FileLock(self.lock_path, timeout=lock_timeout, thread_local=True)
        self._passphrase = passphrase.encode("utf-8")
        self._scrypt_n = scrypt_n
        self._salt: bytes | None = None
        self._key: bytes | None = None
        self._n = scrypt_n

    def __repr__(self) -> str:
        return f"EncryptedFileTokenStore({str(self.path)!r})"

    def describe(self) -> str:
        return f"the encrypted token file {self.path}"

    def _derive(self, salt: bytes, n: int) -> bytes:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        if self._key is not None and self._salt == salt and self._n == n:
            return self._key
        key = Scrypt(salt=salt, length=32, n=n, r=SCRYPT_R, p=SCRYPT_P).derive(self._passphrase)
        self._salt, self._key, self._n = salt, key, n
        return key

    def _read_all(self) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            raw = read_bytes_or_none(self.path)
        except OSError as exc:
            raise TokenStoreError(
                f"cannot read {self.path}: {exc.strerror or type(exc).__name__}"
            ) from None
        if raw is None:
            return {}
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
                raise ValueError("unknown format")
            salt, nonce = _unb64(doc["salt"]), _unb64(doc["nonce"])
            ciphertext = _unb64(doc["ciphertext"])
            n = doc["n"]
            if not isinstance(n, int) or n < 2 or n > 2**22 or n & (n - 1):
                raise ValueError("bad scrypt cost")
        except (ValueError, KeyError, TypeError, RecursionError):
            raise TokenStoreError(
                f"{self.path} is not a readable token store (damaged?); move it away and "
                "log in again with python -m runtime login <account>"
            ) from None
        key = self._derive(salt, n)
        self._n = n
        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, FILE_FORMAT.encode())
        except (InvalidTag, ValueError):
            raise TokenStoreError(
                f"the token store key does not open {self.path} (wrong key, or the file "
                "was altered)"
            ) from None
        try:
            data = json.loads(plain)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            raise TokenStoreError(f"{self.path} decrypts to unreadable data") from None
        return data

    def _write_all(self, data: dict[str, Any]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if self._salt is None:
            self._read_all()  # an existing file: keep its salt and cost (and prove the key)
        if self._salt is None:  # a new file: a fresh random salt
            self._n = self._scrypt_n
            key = self._derive(os.urandom(16), self._n)
        else:
            key = self._derive(self._salt, self._n)
        assert self._salt is not None
        nonce = os.urandom(12)
        plain = json.dumps(data, sort_keys=True).encode("utf-8")
        doc = {
            "format": FILE_FORMAT,
            "kdf": "scrypt",
            "n": self._n,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": _b64(self._salt),
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(key).encrypt(nonce, plain, FILE_FORMAT.encode())),
        }
        try:
            write_atomic(self.path, json.dumps(doc, sort_keys=True, indent=1).encode() + b"\n")
        except OSError as exc:
            raise TokenStoreError(
                f"cannot write {self.path}: {exc.strerror or type(exc).__name__}"
            ) from None

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the file's lock for one read, change and write."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                yield
        except filelock.Timeout:
            raise TokenStoreError(
                f"{self.path} stayed locked by another change for {self._lock.timeout:g} s "
                f"(a login or refresh still running, or a stale {self.lock_path.name} from a "
                "process on another machine sharing the folder); try again"
            ) from None
        except OSError as exc:
            raise TokenStoreError(
                f"cannot lock {self.lock_path}: {exc.strerror or type(exc).__name__}"
            ) from None

    def check(self) -> None:
        self._read_all()
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TokenStoreError(
                f"cannot create {folder}: {exc.strerror or type(exc).__name__}"
            ) from None

    def load(self, account_id: str) -> StoredToken | None:
        entry = self._read_all().get(account_id)
        if entry is None:
            return None
        try:
            return StoredToken.from_parts(entry["access"], entry.get("refresh"), entry["details"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenStoreError(
                f"the entry of account {account_id!r} in {self.path} is damaged "
                f"({type(exc).__name__}); run python -m runtime login {account_id}"
            ) from None

    def save(self, account_id: str, token: StoredToken) -> None:
        with self._changing():
            data = self._read_all()
            data[account_id] = {
                "access": token.access_token,
                "refresh": token.refresh_token,
                "details": token.details(),
            }
            self._write_all(data)

    def delete(self, account_id: str) -> None:
        with self._changing():
            data = self._read_all()
            if data.pop(account_id, None) is not None:
                self._write_all(data)


def open_token_store(config: TokenStoreConfig, data_dir: Path) -> TokenStore:
    """The store `[token_store]` describes (the file one lives in `<data_dir>/accounts/`)."""
    if config.kind == "file":
        if config.key is None:
            raise TokenStoreError('[token_store] kind = "file" needs a key')
        return EncryptedFileTokenStore(data_dir / "accounts" / FILE_NAME, config.key.reveal())
    return KeyringTokenStore()
