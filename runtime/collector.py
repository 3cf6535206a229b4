"""Python's cyclic garbage collector, paused while the tree starts and while it stops.

Starting a thousand creators builds most of the heap in a second or two; stopping them makes
a burst of short-lived cycles (cancellations, tracebacks). In both phases the collector's
passes, triggered by the heap's growth, walked the whole heap again and again: about half of
the start and of the stop at 1,000 creators, measured. Reference counting still frees, while
the collector is paused, everything that is not in a cycle.

After the start, the objects the start built (configuration, actors, their tasks: nearly all
of them live as long as the process, and a collection right then finds next to no garbage)
are exempted from the collector's passes (`gc.freeze`), so no later pass walks them again.
What that can keep: a cycle among them that becomes garbage later (a creator's actors from
the start, once they are restarted or removed), once; objects made after the start are
collected as usual, so nothing grows with the time the process runs.
"""

from __future__ import annotations

import gc


class CollectorPause:
    """Pauses the cyclic garbage collector until `resume`, which puts back the state it found
    (a collector someone else disabled stays disabled). Pausing twice is pausing once."""

    def __init__(self) -> None:
        self._was_enabled: bool | None = None  # None: not paused

    @property
    def paused(self) -> bool:
        return self._was_enabled is not None

    def pause(self) -> None:
        if self._was_enabled is None:
            self._was_enabled = gc.isenabled()
            gc.disable()

    def resume(self, *, freeze: bool = False) -> None:
        """Let the collector run again; with `freeze`, first exempt every object alive now
        from its passes (see the module's docstring)."""
        if freeze:
            gc.freeze()
        if self._was_enabled is not None:
            if self._was_enabled:
                gc.enable()
            self._was_enabled = None
