"""Maintenance windows, blackouts and upgrade-duration estimates: pure functions of time."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from geminidb_patcher.contract.reasons import Reason
from geminidb_patcher.contract.request import Blackout, ExplicitWindow
from geminidb_patcher.reconcile.snapshot import InstanceView

_HHMM_RANGE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_NODE_COUNT = 3
"""Assumed when ListInstances shows no nodes, so the estimate is never zero."""


def estimated_duration(instance: InstanceView) -> timedelta:
    """Upper-bound duration of a patch upgrade (see the README for the sources of each figure)."""
    return guide_duration(instance.engine, instance.node_count or DEFAULT_NODE_COUNT)


def guide_duration(engine: str, nodes: int) -> timedelta:
    """Huawei's documented upper bound for an upgrade of ``engine`` with ``nodes`` nodes."""
    return _estimate(engine == "redis", nodes)


@functools.lru_cache(maxsize=256)
def _estimate(redis: bool, nodes: int) -> timedelta:
    if redis:
        return timedelta(seconds=900 + nodes * 120)  # basic components ~15 min, then 1-2 min per node
    return timedelta(seconds=600 + nodes * 120)  # Cassandra's documented bound; Influx has none, use the same


@dataclass(frozen=True)
class Opening:
    """One occurrence of a window, in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class DailyWindow:
    """A daily window in a time zone, optionally limited to some weekdays."""

    start: time
    end: time
    zone: tzinfo
    days: frozenset[int] | None = None

    def openings(self, around: datetime) -> list[Opening]:
        """Occurrences from the day before ``around`` on, in order: enough to hold the current and the next one."""
        local_today = around.astimezone(self.zone).date()
        found = []
        for offset in range(-1, 9 if self.days is not None else 3):
            day = local_today + timedelta(days=offset)
            if self.days is not None and day.weekday() not in self.days:
                continue
            end_day = day + timedelta(days=1) if self.end <= self.start else day
            start = local_moment(day, self.start, self.zone, at_end=False)
            end = local_moment(end_day, self.end, self.zone, at_end=True)
            if end > start:  # a window inside a DST gap has no length that day
                found.append(Opening(start, end))
        return found

    def openings_from(self, after: datetime, days: int = 35) -> Iterator[Opening]:
        """Every occurrence that ends after ``after``, for ``days`` days, in order, computed as they are needed."""
        last: datetime | None = None
        for offset in range(0, days, 2):
            for opening in self.openings(after + timedelta(days=offset)):
                if opening.end > after and (last is None or opening.start > last):
                    last = opening.start
                    yield opening


@functools.lru_cache(maxsize=1024)
def local_moment(day: date, clock: time, zone: tzinfo, *, at_end: bool) -> datetime:
    """The UTC moment a local wall clock in ``zone`` shows ``clock`` on ``day``.

    A time that does not exist that day (a DST gap) is read with the offset before the change when it starts a
    window (later: the window is shorter, never longer); when it ends one, it is the moment the clock jumps past it,
    so a window ends at its local end and not an hour later. A time that occurs twice is its first occurrence.
    """
    naive = datetime.combine(day, clock)
    moment = naive.replace(tzinfo=zone).astimezone(UTC)
    if not at_end or moment.astimezone(zone).replace(tzinfo=None) == naive:
        return moment
    low, high = naive.replace(tzinfo=zone, fold=1).astimezone(UTC), moment
    while high - low > timedelta(seconds=1):  # the first moment whose wall clock reads ``clock`` or later
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@functools.lru_cache(maxsize=256)
def parse_maintenance_window(text: str) -> DailyWindow | None:
    """An instance's ``maintenance_window`` (``HH:MM-HH:MM``, UTC); ``None`` when absent or unreadable."""
    match = _HHMM_RANGE.fullmatch(text.strip())
    if not match:
        return None
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if (start_h, start_m) == (end_h, end_m):
        return None
    return DailyWindow(time(start_h, start_m), time(end_h, end_m), UTC)


def explicit_window(spec: ExplicitWindow) -> DailyWindow:
    """The request's explicit window."""
    days = frozenset(_WEEKDAYS.index(day) for day in spec.days) if spec.days else None
    return DailyWindow(spec.start, spec.end, ZoneInfo(spec.timezone), days)


@dataclass(frozen=True)
class WindowVerdict:
    """Why an upgrade may not start now, and when it next could."""

    reason: Reason
    detail: str
    next_opening: datetime | None


@functools.lru_cache(maxsize=1024)
def _around(window: DailyWindow, now: datetime) -> tuple[Opening | None, tuple[Opening, ...]]:
    """The opening ``now`` is in (if any) and those after it: once per window and moment, as fleets share windows."""
    openings = window.openings(now)
    current = next((o for o in openings if o.start <= now < o.end), None)
    return current, tuple(o for o in openings if o.start > now)


@functools.lru_cache(maxsize=1024)
def utc_minute(moment: datetime) -> str:
    """``2026-11-28 14:00 UTC``: how a hold's sentence names a moment."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def minutes_up(span: timedelta) -> int:
    """A duration an upgrade may take, in whole minutes, never rounded down."""
    return -int(-span.total_seconds() // 60)


def check_window(
    window: DailyWindow, now: datetime, needed: timedelta, label: str, source: str = ""
) -> WindowVerdict | None:
    """``None`` when ``now`` is inside ``window`` with at least ``needed`` left; otherwise the verdict.

    The next opening named is the next one long enough for ``needed``; a window never that long is
    ``window_too_short`` with no next opening, so no one is told to wait for a window that cannot fit the upgrade.
    """
    current, upcoming = _around(window, now)
    if current is not None and current.end - now >= needed:
        return None
    fitting = next((o.start for o in upcoming if o.end - o.start >= needed), None)
    if fitting is None and upcoming:
        longest = max(o.end - o.start for o in upcoming)
        detail = (
            f"The {label} lasts {_minutes(longest)} min; the upgrade may take up to {minutes_up(needed)} min"
            f"{f' ({source})' if source else ''}, so it never fits: give the instance a longer window, or patch it "
            "with an explicit window."
        )
        return WindowVerdict("window_too_short", detail, None)
    then = f"it next opens at {utc_minute(fitting)}" if fitting else ""
    if current is None:
        return WindowVerdict(
            "outside_maintenance_window", f"Outside the {label}" + (f"; {then}." if then else "."), fitting
        )
    left = _minutes(current.end - now)
    said = f" ({source})" if source else ""
    detail = f"Only {left} min left in the {label}; the upgrade may take up to {minutes_up(needed)} min{said}" + (
        f". It next opens at {utc_minute(fitting)}." if fitting else "."
    )
    return WindowVerdict("window_too_short", detail, fitting)


def merged_blackouts(blackouts: Iterable[Blackout]) -> list[tuple[datetime, datetime, str]]:
    """Blackouts as sorted, non-overlapping ``(start, end, reason)`` spans in UTC."""
    spans = sorted((b.start.astimezone(UTC), b.end.astimezone(UTC), b.reason) for b in blackouts)
    merged: list[tuple[datetime, datetime, str]] = []
    for start, end, reason in spans:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            reasons = "; ".join(r for r in dict.fromkeys((last[2], reason)) if r)
            merged[-1] = (last[0], max(last[1], end), reasons)
        else:
            merged.append((start, end, reason))
    return merged


def check_blackouts(
    spans: list[tuple[datetime, datetime, str]], now: datetime, needed: timedelta
) -> WindowVerdict | None:
    """A verdict when ``now`` is inside a blackout, or an upgrade starting now could still run when one begins."""
    for start, end, reason in spans:
        if start < now + needed and now < end:
            why = f" ({reason})" if reason else ""
            if start <= now:
                detail = f"A blackout{why} is in force until {utc_minute(end)}."
            else:
                detail = f"An upgrade started now could still run when the blackout{why} begins at {utc_minute(start)}."
            return WindowVerdict("blackout", detail + f" Nothing is submitted before {utc_minute(end)}.", end)
    return None


def first_start(
    window: DailyWindow | None, spans: list[tuple[datetime, datetime, str]], after: datetime, needed: timedelta
) -> datetime | None:
    """The first moment from ``after`` at which an upgrade of ``needed`` fits inside ``window`` (``None``: any time)
    and clear of every blackout; ``None`` when none does within five weeks."""
    openings = (
        window.openings_from(after) if window is not None else iter([Opening(after, after + timedelta(days=3650))])
    )
    for opening in openings:
        moment = max(opening.start, after)
        while opening.end - moment >= needed:
            clash = next((end for start, end, _ in spans if start < moment + needed and moment < end), None)
            if clash is None:
                return moment
            moment = clash
    return None
