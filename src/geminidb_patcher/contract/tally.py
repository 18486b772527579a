"""Sums over a report's compliance entries: per engine, per target, and for the whole fleet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from geminidb_patcher.contract.report import (
    EngineCompliance,
)

FLEET = "all"
"""The engine name of a fleet-wide compliance total."""


def _engine(entry: EngineCompliance) -> str:
    return entry.engine


def compliance_totals(
    entries: Iterable[EngineCompliance],
    *,
    with_fleet: bool = False,
    by: Callable[[EngineCompliance], str] = _engine,
) -> dict[str, Counter[str]]:
    """``instances``, ``current``, ``behind``, ``stuck`` (behind, needing an operator), ``no_patch`` (no patch
    offered) and ``older`` (no patch offered, older version) summed per engine (or per
    ``by`` of each entry, e.g. its target), keys sorted; with ``with_fleet``, also the whole fleet under ``FLEET``."""
    totals: dict[str, Counter[str]] = {}
    for entry in entries:
        for key in (by(entry), FLEET) if with_fleet else (by(entry),):
            totals.setdefault(key, Counter()).update(
                instances=entry.instances,
                current=entry.current,
                behind=entry.behind,
                stuck=entry.behind_not_patchable,
                no_patch=entry.no_patch_offered,
                older=entry.older_version,
            )
    return dict(sorted(totals.items()))


def current_share(tally: Counter[str]) -> float:
    """``current / instances`` of a ``compliance_totals`` tally; 1.0 when it counts no instance."""
    return tally["current"] / tally["instances"] if tally["instances"] else 1.0
