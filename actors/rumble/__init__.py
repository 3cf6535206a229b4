"""Rumble: the per-streamer Live Stream API (read-only polling) and the `RumbleChat` actor."""
