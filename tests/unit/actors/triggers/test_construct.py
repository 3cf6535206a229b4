"""`actors.triggers._construct.positional` builds the objects the public constructors build."""

from __future__ import annotations

import attrs
import pytest

from actors.triggers import _construct
from actors.triggers.actions import PollOpen, Reply, TallyChange
from actors.triggers.evaluate import Evaluation

COMMON = {
    "trigger_id": "t",
    "creator_id": "c",
    "platform": "twitch",
    "channel": "chan",
    "message_id": "m",
    "user_id": "1",
    "login": "a",
    "display_name": "A",
    "args": ("x",),
    "raw_args": "x",
    "response": "hi {user}",
}
SAMPLES = [
    Reply(template="hi {user}", **COMMON),  # type: ignore[arg-type]
    PollOpen(question="q?", options=("a", "b"), duration=60.0, **COMMON),  # type: ignore[arg-type]
    TallyChange(tally_id="deaths", op="increment", amount=1, **COMMON),  # type: ignore[arg-type]
    Evaluation(actions=(), blocked=(), errors=(), ignored=True),
]

MAKERS = [pytest.param(_construct.python_positional, id="python")]
if _construct.USE_COMPILED:
    MAKERS.append(pytest.param(_construct.positional, id="compiled"))


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("public", SAMPLES, ids=lambda s: type(s).__name__)
def test_positional_object_is_the_public_one(make: object, public: object) -> None:
    names = tuple(a.name for a in attrs.fields(type(public)))
    build = make(type(public), names)  # type: ignore[operator]
    built = build(*(getattr(public, name) for name in names))
    assert type(built) is type(public)
    assert (built, repr(built)) == (public, repr(public))
    if not isinstance(public, Evaluation):  # its cooldowns_started mapping is unhashable
        assert hash(built) == hash(public)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.trigger_id = "other"  # type: ignore[attr-defined]


def test_positional_refuses_names_that_are_not_the_fields_in_order() -> None:
    with pytest.raises(RuntimeError, match="update the caller"):
        _construct.positional(
            Evaluation, ("blocked", "actions", "errors", "cooldowns_started", "ignored")
        )
    with pytest.raises(RuntimeError, match="update the caller"):
        _construct.python_positional(Evaluation, ("actions",))


def test_positional_refuses_classes_that_convert_or_validate() -> None:
    @attrs.frozen
    class Checked:
        n: int = attrs.field(validator=attrs.validators.instance_of(int))

    with pytest.raises(RuntimeError, match="validates"):
        _construct.positional(Checked, ("n",))
