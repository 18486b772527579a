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
        instances = snapshot.instances
        states = Counter(
            (i.engine or UNKNOWN, i.patch_available, i.patch_available and i.id in stuck) for i in instances
        )
        versions = Counter((i.engine or UNKNOWN, i.version or UNKNOWN) for i in instances)
        for engine in sorted({engine for engine, _, _ in states}):
            behind = states[engine, True, False] + states[engine, True, True]
            total = behind + states[engine, False, False]
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
                )
            )
    return found
