"""Go-live notifications: rules, the durable outbox, and the dispatcher posting to Discord."""

from actors.notify.dispatcher import NotificationDispatcher, Wake
from actors.notify.rules import NotifyRule, job_view, outbox_ops, rules_from_config

__all__ = [
    "NotificationDispatcher",
    "NotifyRule",
    "Wake",
    "job_view",
    "outbox_ops",
    "rules_from_config",
]
