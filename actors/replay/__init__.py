"""The replay platform: a recorded chat log played into the pipeline."""

from actors.replay.actor import ReplayChat

__all__ = ["ReplayChat"]
