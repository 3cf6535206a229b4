"""Trigger cooldowns: per user, per trigger and creator-wide, with explicit time.

Pure code, no I/O and no clock: every method takes `now`, a float number of seconds on any one
clock the caller keeps consistent. The trigger engine passes wall-clock epoch seconds
(`time.time()`) so that the expiries it persists stay meaningful after a restart; tests pass
whatever numbers make the timing exact. Expiries are stored as absolute times on that clock.

The three kinds, per `TriggerConfig`:

- `cooldown_user`: once a chatter fires the trigger, that chatter cannot fire it again for this
  many seconds (key `user:<trigger id>:<user id>`).
- `cooldown_trigger`: once anyone fires the trigger, nobody can fire it for this many seconds
  (key `trigger:<trigger id>`).
- `cooldown_global`: a creator-wide gate (key `global`). A trigger with `cooldown_global > 0`
  that fires closes the gate for that many seconds (extending it, never shortening it), and
  while the gate is closed every trigger with `cooldown_global > 0` is blocked. Triggers with
  `cooldown_global = 0` neither close nor respect the gate, so a chatty reply can be throttled
  across the bot without ever swallowing a `!vote`.

Memory stays bounded: expired entries are pruned as the table grows (amortised, each sweep at
most doubles the size that triggers the next one), and the per-user table is capped at
`max_user_entries` by dropping the entries closest to expiry first.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping

from config.models import TriggerConfig

GLOBAL_KEY = "global"
_TRIGGER_PREFIX = "trigger:"
_USER_PREFIX = "user:"


def trigger_key(trigger_id: str) -> str:
    """The durable key of a per-trigger cooldown: `trigger:<id>`."""
    return f"{_TRIGGER_PREFIX}{trigger_id}"


def user_key(trigger_id: str, user_id: str) -> str:
    """The durable key of a per-user cooldown: `user:<trigger id>:<user id>`.

    Trigger ids never contain `:` (they are slugs), so the first `:` after the trigger id
    separates it from the user id, which may contain anything.
    """
    return f"{_USER_PREFIX}{trigger_id}:{user_id}"


class CooldownTable:
    """The running cooldowns of one creator's triggers.

    `max_user_entries` caps the per-user table (the only one that grows with the audience);
    `prune_floor` is the size below which no automatic sweep happens.
    """

    __slots__ = ("_global", "_max_user", "_next_prune", "_prune_floor", "_trigger", "_user")

    def __init__(self, *, max_user_entries: int = 100_000, prune_floor: int = 1024) -> None:
        if max_user_entries < 1:
            raise ValueError("max_user_entries must be at least 1")
        self._user: dict[tuple[str, str], float] = {}
        self._trigger: dict[str, float] = {}
        self._global = -math.inf
        self._max_user = max_user_entries
        self._prune_floor = max(1, prune_floor)
        self._next_prune = min(self._prune_floor, max_user_entries)

    def __len__(self) -> int:
        """Entries held (expired ones not yet pruned included)."""
        return len(self._user) + len(self._trigger) + (self._global > -math.inf)

    def blocking(
        self, trigger: TriggerConfig, user_id: str, now: float
    ) -> tuple[str, float] | None:
        """`(scope, remaining seconds)` of the cooldown that blocks `trigger` for `user_id` the
        longest, scope being `"user"`, `"trigger"` or `"global"`; `None` when it may fire.

        A cooldown expiring exactly at `now` no longer blocks.
        """
        worst: tuple[str, float] | None = None
        if trigger.cooldown_user > 0:
            expiry = self._user.get((trigger.id, user_id))
            if expiry is not None and expiry > now:
                worst = ("user", expiry - now)
        if trigger.cooldown_trigger > 0:
            expiry = self._trigger.get(trigger.id)
            if expiry is not None and expiry > now and (worst is None or expiry - now > worst[1]):
                worst = ("trigger", expiry - now)
        if trigger.cooldown_global > 0 and self._global > now:
            remaining = self._global - now
            if worst is None or remaining > worst[1]:
                worst = ("global", remaining)
        return worst

    def check(self, trigger: TriggerConfig, user_id: str, now: float) -> float | None:
        """Seconds until `trigger` may fire for `user_id` again, or `None` when it may now."""
        found = self.blocking(trigger, user_id, now)
        return None if found is None else found[1]

    def start(self, trigger: TriggerConfig, user_id: str, now: float) -> dict[str, float]:
        """Start `trigger`'s cooldowns as fired by `user_id` at `now`.

        Returns the entries set, durable key -> expiry, for the caller to persist (empty when
        the trigger has no cooldown).
        """
        started: dict[str, float] = {}
        if trigger.cooldown_user > 0:
            expiry = now + trigger.cooldown_user
            self._user[(trigger.id, user_id)] = expiry
            started[user_key(trigger.id, user_id)] = expiry
            if len(self._user) > self._next_prune:
                self._maintain(now)
        if trigger.cooldown_trigger > 0:
            expiry = now + trigger.cooldown_trigger
            self._trigger[trigger.id] = expiry
            started[trigger_key(trigger.id)] = expiry
        if trigger.cooldown_global > 0:
            expiry = now + trigger.cooldown_global
            if expiry > self._global:
                self._global = expiry
            started[GLOBAL_KEY] = self._global
        return started

    def prune(self, now: float) -> int:
        """Drop every entry expired at `now`; return how many were dropped."""
        dropped = 0
        expired_users = [key for key, expiry in self._user.items() if expiry <= now]
        for key in expired_users:
            del self._user[key]
        dropped += len(expired_users)
        expired_triggers = [
            trigger_id for trigger_id, expiry in self._trigger.items() if expiry <= now
        ]
        for trigger_id in expired_triggers:
            del self._trigger[trigger_id]
        dropped += len(expired_triggers)
        if -math.inf < self._global <= now:
            self._global = -math.inf
            dropped += 1
        return dropped

    def _maintain(self, now: float) -> None:
        """Amortised upkeep of the per-user table: prune, then enforce the cap."""
        self.prune(now)
        if len(self._user) > self._max_user:
            # Forgetting the entries nearest to expiry costs the least: those chatters could
            # fire again only slightly early. Evict down to 90 % so that the next sweep is
            # a tenth of the cap away (O(1) amortised per `start`, even at the cap).
            low = self._max_user - self._max_user // 10
            excess = len(self._user) - low
            for key, _expiry in heapq.nsmallest(excess, self._user.items(), key=lambda kv: kv[1]):
                del self._user[key]
        # Next sweep when the table doubles (or reaches the cap).
        self._next_prune = min(max(self._prune_floor, 2 * len(self._user)), self._max_user)

    def durable_entries(
        self, now: float | None = None, *, min_remaining: float = 0.0
    ) -> dict[str, float]:
        """The entries worth persisting: durable key -> expiry on the caller's clock.

        With `now`, only entries still running `min_remaining` seconds after `now` (a cooldown
        about to expire is not worth a write); without it, every entry held.
        """
        limit = -math.inf if now is None else now + min_remaining
        out: dict[str, float] = {}
        for trigger_id, expiry in self._trigger.items():
            if expiry > limit:
                out[trigger_key(trigger_id)] = expiry
        for (trigger_id, user_id), expiry in self._user.items():
            if expiry > limit:
                out[user_key(trigger_id, user_id)] = expiry
        if self._global > -math.inf and self._global > limit:
            out[GLOBAL_KEY] = self._global
        return out

    def load(self, entries: Mapping[str, float], now: float | None = None) -> int:
        """Restore entries written by `durable_entries`/`start`; return how many were taken.

        Entries already expired at `now` (when given), malformed keys and non-finite or
        non-numeric values are skipped. A restored entry never shortens a running one.
        """
        loaded = 0
        for key, value in entries.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            expiry = float(value)
            if not math.isfinite(expiry) or (now is not None and expiry <= now):
                continue
            if key == GLOBAL_KEY:
                self._global = max(self._global, expiry)
            elif key.startswith(_TRIGGER_PREFIX):
                trigger_id = key[len(_TRIGGER_PREFIX) :]
                if not trigger_id or ":" in trigger_id:
                    continue
                self._trigger[trigger_id] = max(self._trigger.get(trigger_id, expiry), expiry)
            elif key.startswith(_USER_PREFIX):
                trigger_id, sep, user_id = key[len(_USER_PREFIX) :].partition(":")
                if not trigger_id or not sep or not user_id:
                    continue
                pair = (trigger_id, user_id)
                self._user[pair] = max(self._user.get(pair, expiry), expiry)
            else:
                continue
            loaded += 1
        if len(self._user) > self._next_prune:
            self._maintain(-math.inf if now is None else now)
        return loaded
