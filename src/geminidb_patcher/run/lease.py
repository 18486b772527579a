"""One apply per target at a time: the lease port, and a run's leases from its observation to its last submission.

A lease is an item keyed by the target (region and project), written only if it is absent or expired, renewed by its
holder while it acts and deleted at the end; it expires on its own ``term`` seconds after the holder's last renewal,
so a run that was killed never wedges a project. Plans take none. Whatever the store does, an apply that cannot show
it holds the target's lease submits nothing there: the lease fails closed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from geminidb_patcher.contract.reasons import ANOTHER_RUN, Reason
from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import UpstreamError

DEFAULT_TERM_SECONDS = 120.0
"""How long a lease lasts without renewal: longer than any single call, short after a killed run."""
DEFAULT_WAIT_SECONDS = 10.0
"""How long an apply waits for a target's lease held by another run before it reports the target busy."""
RETRY_PAUSE_SECONDS = 1.0


@dataclass(frozen=True)
class LeasePolicy:
    """How long a lease lasts unrenewed, and how long an apply waits for one another run holds."""

    term: float = DEFAULT_TERM_SECONDS
    wait: float = DEFAULT_WAIT_SECONDS


DEFAULT_POLICY = LeasePolicy()


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: the run, how it was triggered, since when; ``token`` tells two runs with one ID apart."""

    run_id: str
    trigger: str
    since: datetime
    token: str

    @classmethod
    def for_run(cls, run_id: str, trigger: str, since: datetime) -> Holder:
        """A new holder for one run."""
        return cls(run_id, trigger, since, uuid.uuid4().hex)

    def describe(self) -> str:
        """``run <id> (<trigger>), since <time>``, for details and notes."""
        return f"run {self.run_id} ({self.trigger}), since {self.since.astimezone(UTC).isoformat(timespec='seconds')}"


class LeaseUnavailableError(UpstreamError):
    """The lease store could not be reached or refused the call; the message names the table."""

    error_code = "LeaseUnavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LeaseStore(Protocol):
    """Where leases live (a DynamoDB table on AWS)."""

    @property
    def name(self) -> str:
        """What an operator looks for when the store fails (the table's name)."""
        ...

    def take(self, key: str, holder: Holder, now: float, term: float) -> Holder | None:
        """Write the lease if absent or expired: ``None`` when ``holder`` has it, else the one who does."""
        ...

    def renew(self, key: str, holder: Holder, now: float, term: float) -> bool:
        """Extend ``holder``'s lease to ``now + term``; ``False`` when ``holder`` no longer holds it."""
        ...

    def release(self, key: str, holder: Holder) -> None:
        """Delete the lease if ``holder`` still holds it."""
        ...

    def claim(self, key: str, now: float, term: float) -> str | None:
        """Record a one-time key (a webhook ID) for ``term`` seconds: a token to undo it, ``None`` if seen before."""
        ...

    def unclaim(self, key: str, token: str) -> None:
        """Forget a claim made with ``token`` (its request was refused, so the sender may retry)."""
        ...


def lease_key(target: Target) -> str:
    """The item key of ``target``'s apply lease."""
    return f"apply#{target.region}#{target.project_id}"


@dataclass
class _State:
    expires_at: float = 0.0
    busy: Holder | None = None
    lost: str | None = None


class RunLeases:
    """The leases of one ``apply`` run: taken before observing, checked (and renewed) before every batch, released."""

    def __init__(
        self,
        store: LeaseStore,
        holder: Holder,
        policy: LeasePolicy = DEFAULT_POLICY,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        time_left: Callable[[], float] = lambda: float("inf"),
    ) -> None:
        self._store = store
        self.holder = holder
        self._term = policy.term
        self._wait = policy.wait
        self._clock = clock
        self._sleep = sleep
        self._time_left = time_left
        self._states: dict[Target, _State] = {}
        self._lock = threading.Lock()

    def take(self, targets: Iterable[Target]) -> dict[Target, LeaseUnavailableError]:
        """Take every target's lease, in one order for every run; the targets whose store failed, with why.

        A target another run holds is waited for up to ``wait`` seconds (never past the run's time), then is busy.
        """
        failed: dict[Target, LeaseUnavailableError] = {}
        waited_until = time.monotonic() + self._wait
        for target in sorted(set(targets), key=lambda t: (t.region, t.project_id)):
            try:
                self._states[target] = self._take_one(target, waited_until)
            except LeaseUnavailableError as error:
                failed[target] = error
        return failed

    def _take_one(self, target: Target, waited_until: float) -> _State:
        while True:
            now = self._clock()
            other = self._store.take(lease_key(target), self.holder, now, self._term)
            if other is None:
                return _State(expires_at=now + self._term)
            pause = min(RETRY_PAUSE_SECONDS, waited_until - time.monotonic(), self._time_left())
            if pause <= 0:
                return _State(busy=other)
            self._sleep(pause)

    def busy(self) -> dict[Target, Holder]:
        """Targets another run holds, with that run."""
        return {target: state.busy for target, state in self._states.items() if state.busy is not None}

    def hold_reason(self, target: Target) -> tuple[Reason, str] | None:
        """Why nothing may be submitted to ``target`` now, if so; renews the lease when half its term has passed."""
        with self._lock:
            state = self._states.get(target)
            if state is None:
                return "lease_unavailable", "Not submitted: this run holds no apply lease for this project."
            if state.busy is not None:
                return ANOTHER_RUN, (
                    f"Not submitted: {state.busy.describe()}, holds this project's apply lease and is applying; "
                    "a later run picks it up. Not counted against max_errors."
                )
            if state.lost is not None:
                return "lease_unavailable", state.lost
            now = self._clock()
            if state.expires_at - now < self._term / 2:
                self._renew(target, state, now)
            return None if state.lost is None else ("lease_unavailable", state.lost)

    def _renew(self, target: Target, state: _State, now: float) -> None:
        try:
            renewed = self._store.renew(lease_key(target), self.holder, now, self._term)
        except LeaseUnavailableError as error:
            if state.expires_at - self._clock() > self._term / 4:
                return  # still safely held: the next batch tries again
            state.lost = f"Not submitted: the apply lease could not be renewed ({error.message}). Nothing was changed."
            return
        if renewed:
            state.expires_at = now + self._term
        else:
            state.lost = (
                "Not submitted: this run's apply lease expired and was taken or removed meanwhile; what it observed "
                "may be stale. A later run picks it up."
            )

    def release(self) -> None:
        """Give back every lease this run holds; a failure only leaves it to expire."""
        for target, state in self._states.items():
            if state.busy is None:
                try:
                    self._store.release(lease_key(target), self.holder)
                except LeaseUnavailableError:
                    continue
