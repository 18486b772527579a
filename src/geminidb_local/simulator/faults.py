"""Fault injection: a FIFO list of faults, each matching a route and firing a number of times."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal[
    "status",
    "drop",
    "delay",
    "malformed",
    "truncated",
    "accept_then_drop",
    "accept_then_status",
    "expire_tokens",
    "new_instance",
    "remove_instance",
    "echo",
]
FAULT_KINDS: frozenset[str] = frozenset(FaultKind.__args__)  # type: ignore[attr-defined]
"""``expire_tokens`` revokes every IAM token just before answering; ``new_instance`` creates an instance first,
which shifts ListInstances' newest-first pages under a client that is paging (``remove_instance`` deletes the
newest one, shifting them the other way); ``echo`` answers ``status`` with an error whose message repeats the
request's headers and body, as a careless gateway might; ``skip`` lets that many matching requests pass before
the fault fires; ``accept_then_status`` carries the request out, then answers ``status`` (a 5xx after the work
was done)."""


@dataclass
class Fault:
    """One fault: ``route`` is ``"METHOD /suffix"`` (e.g. ``"POST /instances/db-upgrade"``) or ``"*"``."""

    route: str
    kind: FaultKind
    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    skip: int = 0

    @classmethod
    def from_json(cls, item: Any) -> Fault:
        """Parse a fault from the control API's JSON; raises ``ValueError`` on anything unknown."""
        if not isinstance(item, dict) or item.get("kind") not in FAULT_KINDS or "route" not in item:
            raise ValueError(f"a fault needs route and kind in {sorted(FAULT_KINDS)}")
        known = set(cls.__dataclass_fields__)
        if set(item) - known:
            raise ValueError(f"unknown fault fields: {sorted(set(item) - known)}")
        return cls(**item)

    def matches(self, route: str) -> bool:
        """Whether this fault applies to ``route``."""
        return self.route in ("*", route)


class FaultPlan:
    """Faults waiting to fire, in order."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired = 0

    def add(self, *faults: Fault) -> None:
        """Queue faults."""
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def take(self, route: str) -> Fault | None:
        """The first fault matching ``route``, consuming one of its ``times``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(route) and fault.skip > 0:
                    fault.skip -= 1
                    return None
                if fault.matches(route):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    self.fired += 1
                    return fault
        return None
