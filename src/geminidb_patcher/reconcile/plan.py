"""The pure planner: which instances may be patched now, why the others may not, and the batches."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from geminidb_patcher.huawei.client import MAX_BATCH_SIZE
from geminidb_patcher.models import SUPPORTED_ENGINES, RunRequest
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView


@dataclass(frozen=True)
class Skip:
    """An instance in scope that a pre-check excluded."""

    instance_id: str
    instance: InstanceView | None
    reason: str
    detail: str


@dataclass(frozen=True)
class Batch:
    """Up to ten instances of one engine, submitted in one call."""

    engine: str
    instances: tuple[InstanceView, ...]

    @property
    def instance_ids(self) -> list[str]:
        """The IDs in submission order."""
        return [instance.id for instance in self.instances]


@dataclass(frozen=True)
class Plan:
    """Every instance in scope appears exactly once: in ``skips`` or in one batch."""

    skips: tuple[Skip, ...]
    batches: tuple[Batch, ...]


def matches_name(pattern: str, name: str) -> bool:
    """Huawei's name rule: exact match, or with a leading ``*`` a match anywhere in the name."""
    return pattern[1:] in name if pattern.startswith("*") else pattern == name


def _in_scope(snapshot: FleetSnapshot, request: RunRequest) -> tuple[list[InstanceView], list[str]]:
    """Instances in scope and the requested IDs the target does not have."""
    if request.instance_ids is not None:
        by_id = {instance.id: instance for instance in snapshot.instances}
        wanted = list(dict.fromkeys(request.instance_ids))
        return [by_id[i] for i in wanted if i in by_id], [i for i in wanted if i not in by_id]
    selector = request.selector
    if selector is None:
        return list(snapshot.instances), []
    excluded = set(selector.exclude_ids)
    return [
        instance
        for instance in snapshot.instances
        if instance.id not in excluded
        and (selector.engines is None or instance.engine in selector.engines)
        and (selector.name is None or matches_name(selector.name, instance.name))
    ], []


def pre_check(instance: InstanceView, snapshot: FleetSnapshot) -> tuple[str, str] | None:
    """The first pre-check ``instance`` fails, as ``(reason, sentence)``; ``None`` when it may be patched."""
    if instance.engine not in SUPPORTED_ENGINES:
        return (
            "unsupported_engine",
            f"Engine '{instance.engine}' cannot be patched by the batch API (only Cassandra, Influx, Redis).",
        )
    if instance.status != "normal":
        return f"status_{instance.status or 'unknown'}", f"Status is '{instance.status}'; patching needs 'normal'."
    job = snapshot.running_upgrades.get(instance.id)
    if job is not None:
        return "upgrade_running", f"Upgrade job {job} is already running for this instance."
    task = snapshot.scheduled_upgrades.get(instance.id)
    if task is not None:
        return "upgrade_scheduled", f"A patch upgrade (task {task}) is already scheduled for its maintenance window."
    if instance.actions:
        return "busy", f"The instance is busy with {', '.join(instance.actions)}."
    if not instance.patch_available:
        return "no_patch_available", "Up to date: no patch is available for this instance."
    return None


def plan(snapshot: FleetSnapshot, request: RunRequest) -> Plan:
    """Decide, for every instance in scope, whether it is skipped or in which batch it goes."""
    in_scope, missing = _in_scope(snapshot, request)
    skips = [
        Skip(instance_id, None, "not_found", "No instance with this ID exists in the project.")
        for instance_id in missing
    ]
    eligible: list[InstanceView] = []
    for instance in in_scope:
        failed = pre_check(instance, snapshot)
        if failed is None:
            eligible.append(instance)
        else:
            skips.append(Skip(instance.id, instance, *failed))
    eligible.sort(key=lambda instance: (instance.engine, instance.name, instance.id))
    batches: list[Batch] = []
    for engine, group in groupby(eligible, key=lambda instance: instance.engine):
        members = tuple(group)
        batches.extend(
            Batch(engine, members[start : start + MAX_BATCH_SIZE]) for start in range(0, len(members), MAX_BATCH_SIZE)
        )
    return Plan(tuple(skips), tuple(batches))
