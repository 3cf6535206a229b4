"""The rolling buffer's bookkeeping (sans-IO): segments on a wall clock, and clip windows.

ffmpeg's segment muxer writes a CSV list (`name,start,end` in stream seconds) of completed
segments. Each ffmpeg run has its own stream clock, so the ring anchors every run to the wall
clock: the earliest "seen at" minus "stream end" over the run's segments (the earliest sighting
has the least polling delay in it). A clip request names a wall-clock moment; the ring picks
the segments that cover `[moment - length, moment]` and says where to cut inside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs


@attrs.frozen(slots=True, kw_only=True)
class ListEntry:
    """One line of ffmpeg's CSV segment list."""

    name: str
    start: float
    end: float


def parse_segment_list(text: str) -> list[ListEntry]:
    """Parse ffmpeg's `-segment_list_type csv` list; malformed lines are skipped."""
    out: list[ListEntry] = []
    for line in text.splitlines():
        parts = line.strip().rsplit(",", 2)
        if len(parts) != 3 or not parts[0]:
            continue
        try:
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            continue
        if end > start >= 0 and "/" not in parts[0] and "\\" not in parts[0]:
            out.append(ListEntry(name=parts[0].strip('"'), start=start, end=end))
    return out


@attrs.frozen(slots=True, kw_only=True)
class Segment:
    """A completed segment file and the wall-clock span it covers (seconds since the epoch)."""

    name: str
    run: int
    wall_start: float
    wall_end: float

    @property
    def duration(self) -> float:
        return self.wall_end - self.wall_start


@attrs.frozen(slots=True, kw_only=True)
class Window:
    """Segments to concatenate, and the cut inside the concatenation."""

    segments: tuple[Segment, ...]
    offset: float
    duration: float


class NotBuffered(Exception):
    """The requested moment is not (or no longer) in the buffer."""


class SegmentRing:
    """Completed segments, oldest first, pruned to `buffer_seconds`."""

    def __init__(self, *, buffer_seconds: float, segment_seconds: float) -> None:
        self.buffer_seconds = buffer_seconds
        self.segment_seconds = segment_seconds
        self.segments: list[Segment] = []
        self._known: set[str] = set()
        self._anchor: dict[int, float] = {}
        self._entries: dict[int, dict[str, ListEntry]] = {}

    def restore(self, segments: Iterable[Segment]) -> None:
        """Adopt segments from a previous process (their wall times are already fixed)."""
        for seg in sorted(segments, key=lambda s: s.wall_end):
            if seg.name not in self._known:
                self.segments.append(seg)
                self._known.add(seg.name)

    def observe(self, run: int, entries: Sequence[ListEntry], seen_at: float) -> list[Segment]:
        """Record the list of run `run` as read at wall time `seen_at`; return new segments."""
        if not entries:
            return []
        table = self._entries.setdefault(run, {})
        fresh = [e for e in entries if e.name not in table]
        for entry in fresh:
            table[entry.name] = entry
        if not fresh:
            return []
        anchor = min(seen_at - e.end for e in fresh)
        previous = self._anchor.get(run)
        moved = previous is None or anchor < previous
        if moved:
            self._anchor[run] = anchor
        anchor = self._anchor[run]
        if moved and previous is not None:
            # A better anchor: re-place this run's segments (wall times only shrink a little).
            self.segments = [
                _placed(s, table[s.name], anchor) if s.run == run and s.name in table else s
                for s in self.segments
            ]
        added = []
        for entry in sorted(fresh, key=lambda e: e.end):
            if entry.name in self._known:
                continue
            seg = _placed(
                Segment(name=entry.name, run=run, wall_start=0, wall_end=0), entry, anchor
            )
            self.segments.append(seg)
            self._known.add(seg.name)
            added.append(seg)
        self.segments.sort(key=lambda s: s.wall_end)
        return added

    def prune(self, now: float) -> list[Segment]:
        """Drop segments that ended before the buffer; return them (their files can go)."""
        horizon = now - self.buffer_seconds - self.segment_seconds
        dropped = [s for s in self.segments if s.wall_end < horizon]
        if dropped:
            self.segments = [s for s in self.segments if s.wall_end >= horizon]
            for seg in dropped:
                self._known.discard(seg.name)
                self._entries.get(seg.run, {}).pop(seg.name, None)
        return dropped

    @property
    def buffered_seconds(self) -> float:
        """Seconds of footage held (gaps between ffmpeg runs not counted)."""
        return sum(s.duration for s in self.segments)

    @property
    def newest_end(self) -> float | None:
        return self.segments[-1].wall_end if self.segments else None

    def window(self, *, end: float, length: float) -> Window:
        """The segments covering `[end - length, end]` (end clamped to the newest footage).

        Raises `NotBuffered` when nothing of that span is held.
        """
        if not self.segments:
            raise NotBuffered("nothing is buffered yet")
        end = min(end, self.segments[-1].wall_end)
        start = end - length
        # One ffmpeg run only: timestamps of different runs do not concatenate.
        chosen = [s for s in self.segments if s.wall_end > start and s.wall_start < end]
        if not chosen:
            oldest = self.segments[0].wall_start
            raise NotBuffered(
                f"the requested moment is no longer buffered (oldest footage is "
                f"{max(end - oldest, 0):.0f} s older than the clip's end)"
                if end < oldest
                else "the requested moment is not buffered"
            )
        last_run = chosen[-1].run
        chosen = [s for s in chosen if s.run == last_run]
        first = chosen[0]
        start = max(start, first.wall_start)
        end = min(end, chosen[-1].wall_end)
        if end - start <= 0:
            raise NotBuffered("the requested moment is not buffered")
        return Window(segments=tuple(chosen), offset=start - first.wall_start, duration=end - start)


def _placed(seg: Segment, entry: ListEntry, anchor: float) -> Segment:
    return attrs.evolve(seg, wall_start=entry.start + anchor, wall_end=entry.end + anchor)
