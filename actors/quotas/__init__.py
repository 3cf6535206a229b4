"""API quota tracking: one tracker per creator x platform."""

from actors.quotas.tracker import QuotaDecision, QuotaExhausted, QuotaPolicy, QuotaTracker

__all__ = ["QuotaDecision", "QuotaExhausted", "QuotaPolicy", "QuotaTracker"]
