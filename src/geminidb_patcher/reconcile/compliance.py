"""How far behind each engine of each target is, from what a run read: no state, CloudWatch keeps the trend."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from geminidb_patcher.contract.reasons import REASONS
from geminidb_patcher.contract.report import EngineCompliance
from geminidb_patcher.reconcile.plan import Hold
from geminidb_patcher.reconcile.snapshot import FleetSnapshot

UNKNOWN = "unknown"


def _version_key(version: str) -> tuple[str, tuple[int, ...]] | None:
    """``(major, numbers)`` of a dotted version such as ``3.11.5.4`` (major ``3.11``); ``None`` if not numeric."""
    parts = version.split(".")
    if len(parts) < 3 or not all(part.isdigit() for part in parts):
        return None  # a major version alone (Influx, Redis) says nothing about patches
    return ".".join(parts[:2]), tuple(int(part) for part in parts)


def older_versions(snapshots: Sequence[FleetSnapshot]) -> set[tuple[str, str]]:
    """(engine, version) pairs on an older full version than the newest of the same engine and major version that
    any instance the run read is on."""
    keyed = {(i.engine, i.version): _version_key(i.version) for s in snapshots for i in s.instances}
    newest: dict[tuple[str, str], tuple[int, ...]] = {}
    for (engine, _), key in keyed.items():
        if key is not None and key[1] > newest.get((engine, key[0]), ()):
            newest[engine, key[0]] = key[1]
    return {pair for pair, key in keyed.items() if key is not None and key[1] < newest[pair[0], key[0]]}


def compliance(snapshots: Sequence[FleetSnapshot], holds: Iterable[Hold]) -> list[EngineCompliance]:
    """Per target and engine: instances current, behind, behind but not patchable now, and the versions.

    ``patch_available`` false means Huawei offers no patch now, not that the instance is up to date: one on an
    older full version than another instance of its engine and major version shows is counted behind too.
    """
    stuck = {hold.instance_id for hold in holds if REASONS[hold.reason].operator_must_act}
    outdated = older_versions(snapshots)
    found = []
    for snapshot in snapshots:
        instances = snapshot.instances
        states = Counter(
            (i.engine or UNKNOWN, i.patch_available, i.patch_available and i.id in stuck) for i in instances
        )
        older = Counter(
            i.engine or UNKNOWN for i in instances if not i.patch_available and (i.engine, i.version) in outdated
        )
        versions = Counter((i.engine or UNKNOWN, i.version or UNKNOWN) for i in instances)
        for engine in sorted({engine for engine, _, _ in states}):
            offered = states[engine, True, False] + states[engine, True, True]
            total = offered + states[engine, False, False]
            behind = offered + older[engine]
            found.append(
                EngineCompliance(
                    region=snapshot.target.region,
                    project_id=snapshot.target.project_id,
                    engine=engine,
                    instances=total,
                    current=total - behind,
                    behind=behind,
                    behind_not_patchable=states[engine, True, True],
                    ratio=round((total - behind) / total, 4),
                    versions={version: n for (kind, version), n in sorted(versions.items()) if kind == engine},
                    no_patch_offered=total - offered,
                    older_version=older[engine],
                )
            )
    return found
