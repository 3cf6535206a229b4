"""`TelemetryNote`: a runtime event an actor records for the telemetry (an EventSub revocation,
a reconciliation, a trigger fired by a channel event), listed in its typed statistics under
`telemetry_events`; the publisher turns each into a row of telemetry/events.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs

from exports.views import SEVERITIES

__all__ = ["Severity", "TelemetryNote"]

#: How bad a telemetry event is (the values of `exports.views.SEVERITIES`).
Severity = Literal["info", "warning", "error"]


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be an aware datetime, got {value!r}")


@attrs.frozen(slots=True, kw_only=True)
class TelemetryNote:
    """One runtime event an actor recorded: when, how bad, which actor (``platform:creator:
    role``) and what happened, in a sentence free of secrets.

    Checked when made, as `exports.views.TelemetryEvent` checks its fields, so the publisher
    turns every note into an event without a failure to handle."""

    timestamp: datetime = attrs.field(validator=_aware)
    severity: Severity = attrs.field(validator=attrs.validators.in_(SEVERITIES))
    source: str = attrs.field(validator=attrs.validators.min_len(1))
    message: str = attrs.field(validator=attrs.validators.instance_of(str))
