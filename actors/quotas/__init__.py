"""API quota tracking: one tracker per creator x platform."""

from actors.quotas.tracker import (
    QuotaDecision,
    QuotaExhausted,
    QuotaFigures,
    QuotaPolicy,
    QuotaTracker,
)

__all__ = ["QuotaDecision", "QuotaExhausted", "QuotaFigures", "QuotaPolicy", "QuotaTracker"]
