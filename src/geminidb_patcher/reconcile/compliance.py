"""How far behind each engine of each target is, from what a run read: no state, CloudWatch keeps the trend."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from geminidb_patcher.models import EngineCompliance
from geminidb_patcher.reconcile.plan import Hold
from geminidb_patcher.reconcile.reasons import STATUS_PREFIX
from geminidb_patcher.reconcile.snapshot import FleetSnapshot

NEEDS_AN_OPERATOR = frozenset(
    {"unsupported_engine", "abnormal_node", "verify_failed", "last_upgrade_failed", "dr_role_unknown"}
)
"""Hold reasons this tool cannot wait out (with every ``status_…`` but none of the timing or rollout ones)."""
UNKNOWN = "unknown"


def needs_an_operator(reason: str) -> bool:
    """Whether an instance held for ``reason`` stays behind until someone acts."""
    return reason in NEEDS_AN_OPERATOR or reason.startswith(STATUS_PREFIX)


def compliance(snapshots: Sequence[FleetSnapshot], holds: Iterable[Hold]) -> list[EngineCompliance]:
    """Per target and engine: instances current, behind, behind but not patchable now, and the versions."""
    stuck = {hold.instance_id for hold in holds if needs_an_operator(hold.reason)}
    found = []
    for snapshot in snapshots:
        by_engine: dict[str, Counter[str]] = {}
        versions: dict[str, Counter[str]] = {}
        for instance in snapshot.instances:
            engine = instance.engine or UNKNOWN
            tally = by_engine.setdefault(engine, Counter())
            tally["instances"] += 1
            if instance.patch_available:
                tally["behind"] += 1
                tally["behind_not_patchable"] += instance.id in stuck
            versions.setdefault(engine, Counter())[instance.version or UNKNOWN] += 1
        for engine in sorted(by_engine):
            tally = by_engine[engine]
            found.append(
                EngineCompliance(
                    region=snapshot.target.region,
                    project_id=snapshot.target.project_id,
                    engine=engine,
                    instances=tally["instances"],
                    current=tally["instances"] - tally["behind"],
                    behind=tally["behind"],
                    behind_not_patchable=tally["behind_not_patchable"],
                    ratio=round((tally["instances"] - tally["behind"]) / tally["instances"], 4),
                    versions=dict(sorted(versions[engine].items())),
                )
            )
    return found
