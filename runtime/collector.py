"""Python's cyclic garbage collector around the tree: paused while it starts and while it
stops, and settled for the long run in between.

Starting a thousand creators builds most of the heap in a second or two; stopping them makes
a burst of short-lived cycles (cancellations, tracebacks). In both phases the collector's
passes, triggered by the heap's growth, walked the whole heap again and again: about half of
the start and of the stop at 1,000 creators, measured. Reference counting still frees, while
the collector is paused, everything that is not in a cycle.

Settled after the start:

- the objects the start built (configuration, actors, their tasks: nearly all of them live as
  long as the process, and a collection right then finds next to no garbage) are exempted
  from the collector's passes (`gc.freeze`), so no later pass walks them again. What that can
  keep: a cycle among them that becomes garbage later (a creator's actors from the start,
  once they are restarted or removed), once; objects made after the start are collected as
  usual, so nothing grows with the time the process runs;
- the youngest generation is collected once the tracked objects grew by a fifth of what the
  start built, instead of every 700: at 1,000 creators that default walked the young objects
  a hundred times a second and moved each publish's documents to the older generations,
  whose passes then took a quarter of the process's CPU time. The count is of objects that
  reference counting did not free, so what waits for a pass is bounded by it.

The older generations keep Python's thresholds, measured (1,000 creators, 400 s): the
collector takes about 5 % of the process's CPU time, a young pass every 12 s (0.2-0.3 s, mostly
walking the publisher's and the store's work in flight), a middle one every 2-3 minutes
(0.5-1.2 s, freeing the cycles that outlived a young pass). A young share of 1 instead of a
fifth halved that time but made one pass of 0.9 s; a middle threshold of 2 instead of 10 cost
more (6 %) and kept no less memory. What the passes free comes from reference cycles made per
message (an exception kept with its traceback: the frames that hold it); fewer of those, not
other thresholds, is what makes them cheaper. The replays' pacing made such a cycle each time
a replay waited for its engine (several hundred a second, up to 9 MiB of garbage between two
middle passes); without it, 1,000 creators from 60 to 240 s: two young passes, 0.16 s in all,
nothing to free.
"""

from __future__ import annotations

import gc

#: The youngest generation's threshold after the start: this share of the objects it built.
YOUNG_SHARE = 0.2


class Collector:
    """Pauses, settles and puts back the cyclic garbage collector (see the module)."""

    def __init__(self) -> None:
        self._was_enabled: bool | None = None  # None: not paused
        self._thresholds: tuple[int, int, int] | None = None  # before `settle`

    @property
    def paused(self) -> bool:
        return self._was_enabled is not None

    def pause(self) -> None:
        """Stop automatic collections until `resume` (pausing twice is pausing once)."""
        if self._was_enabled is None:
            self._was_enabled = gc.isenabled()
            gc.disable()

    def resume(self) -> None:
        """Put back the state `pause` found (a collector someone else disabled stays so)."""
        if self._was_enabled is not None:
            if self._was_enabled:
                gc.enable()
            self._was_enabled = None

    def settle(self) -> None:
        """Exempt every object alive now from the passes; scale the youngest generation to
        them."""
        gc.freeze()
        young, middle, old = gc.get_threshold()
        if self._thresholds is None:
            self._thresholds = (young, middle, old)
        gc.set_threshold(max(young, int(gc.get_freeze_count() * YOUNG_SHARE)), middle, old)

    def reset(self) -> None:
        """Undo `settle` and `pause`: the collector as this object found it."""
        self.resume()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            gc.unfreeze()
            self._thresholds = None
