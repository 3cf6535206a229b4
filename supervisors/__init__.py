"""Supervision: child specs, OTP strategies, restart intensity, backoff, ordered shutdown."""

from supervisors._spec import Backoff, ChildSpec, Restart, Strategy, SupervisorGaveUp
from supervisors._supervisor import ChildInfo, Supervisor

__all__ = [
    "Backoff",
    "ChildInfo",
    "ChildSpec",
    "Restart",
    "Strategy",
    "Supervisor",
    "SupervisorGaveUp",
]
