"""An in-memory token store with the `TokenStore` interface, able to fail writes on demand."""

from __future__ import annotations

from actors.accounts.store import StoredToken, TokenStoreError


class MemoryTokenStore:
    """Keeps tokens in a dict; `fail_saves` makes the next that many saves raise."""

    def __init__(self) -> None:
        self.tokens: dict[str, StoredToken] = {}
        self.saves: list[StoredToken] = []
        self.fail_saves = 0

    def check(self) -> None:
        return None

    def load(self, account_id: str) -> StoredToken | None:
        return self.tokens.get(account_id)

    def save(self, account_id: str, token: StoredToken) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise TokenStoreError("disk full (simulated)")
        self.tokens[account_id] = token
        self.saves.append(token)

    def delete(self, account_id: str) -> None:
        self.tokens.pop(account_id, None)
