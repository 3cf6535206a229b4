"""Child specifications, restart types, strategies and backoff."""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable
from typing import Any

import attrs


class Restart(enum.Enum):
    """What happens when a child exits.

    PERMANENT: always restarted (a normal exit counts toward intensity too).
    TRANSIENT: restarted after a crash; a normal exit leaves it stopped.
    TEMPORARY: never restarted; removed after any exit.
    """

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(enum.Enum):
    """Which children a crash restarts: the crashed one, all, or it and those started after."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class SupervisorGaveUp(Exception):
    """Restart intensity ran out: the supervisor stopped its children and exited.

    Its parent treats this as the crash of one child. `__cause__` is the last crash.
    """

    def __init__(self, path: str, restarts: int, seconds: float) -> None:
        super().__init__(f"{path} gave up: more than {restarts} restarts within {seconds:g} s")
        self.path = path


def _check_id(_instance: object, _attribute: attrs.Attribute, value: str) -> None:
    if not isinstance(value, str) or not value or "/" in value:
        raise ValueError(f"child id must be a non-empty string without '/', got {value!r}")


def _check_shutdown(_instance: object, _attribute: attrs.Attribute, value: float) -> None:
    if not (value >= 0):
        raise ValueError(f"shutdown must be >= 0 seconds (math.inf to wait), got {value!r}")


@attrs.frozen
class ChildSpec:
    """How to start one child: `start` is a zero-argument factory returning a fresh
    `Actor` or `Supervisor` on every (re)start; `shutdown` is the grace period in seconds
    (0: cancel at once, math.inf: wait)."""

    id: str = attrs.field(validator=_check_id)
    start: Callable[[], Any]
    restart: Restart = Restart.PERMANENT
    shutdown: float = attrs.field(default=5.0, validator=_check_shutdown)


@attrs.frozen(kw_only=True)
class Backoff:
    """Delay before the n-th consecutive restart of one child:
    `min(maximum, initial * multiplier**(n-1))` scaled by a random factor in
    `[1 - jitter, 1 + jitter]`. The count resets once the child has run for `maximum` s."""

    initial: float = attrs.field(default=0.05, validator=attrs.validators.ge(0))
    maximum: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: float = attrs.field(
        default=0.1, validator=[attrs.validators.ge(0), attrs.validators.le(1)]
    )

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before restart number `attempt` (1-based) in a row."""
        if attempt < 1 or self.initial == 0:
            return 0.0
        # Cap the exponent so a long crash streak cannot overflow the float.
        exponent = min(attempt - 1, 1024)
        try:
            base = min(self.maximum, self.initial * self.multiplier**exponent)
        except OverflowError:
            base = self.maximum
        if self.jitter:
            base *= (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return base if math.isfinite(base) else self.maximum
