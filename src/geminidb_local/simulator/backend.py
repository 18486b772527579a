"""The simulator's state and the API's rules, separate from HTTP (moto-style)."""

from __future__ import annotations

import copy
import heapq
import itertools
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geminidb_local.simulator.clock import SimClock
from geminidb_local.simulator.errors import SimError
from geminidb_local.simulator.fleet import DEFAULT_BACKUP_AGE_HOURS, Fleet, complete_instance

SUPPORTED_ENGINES = frozenset({"cassandra", "influxdb", "redis"})
MAX_BATCH = 10
NON_ATOMIC_GAP = 0.05
"""Seconds between the check and the job's creation on a non-atomic server (``behaviour.atomic_upgrade_check``)."""
STATE_REFUSALS = frozenset({"DBS.200011", "DBS.200018", "DBS.200019"})
"""403 codes of the GeminiDB error-code page about an instance's state (status, node status, another operation)."""
ROLE_API_ENGINES = frozenset({"redis"})
"""ShowInstanceRole's documented engines (QueryInstanceRole page: "该接口支持GeminiDB Redis数据库实例")."""
HUAWEI_TIME = "%Y-%m-%dT%H:%M:%S+0000"
UPGRADE_TASK = "UPGRADE_DATABASE"
JOB_PAGE_LIMITS = frozenset({10, 20, 50})
JOB_STATUSES = frozenset({"Running", "Completed", "Failed"})
JOB_NAMES = frozenset(
    {
        "CreateInstance", "RestoreNewInstance", "EnlargeInstance", "ReduceInstance", "RestartInstance", "RestartNode",
        "EnlargeInstanceVolume", "ReduceInstanceVolume", "ResizeInstance", "UpgradeDbVersion", "BindPublicIP",
        "UnbindPublicIP", "DeleteInstance", "EnlargeInstanceColdVolume", "AddInstanceColdVolume",
        "ModifySecurityGroup", "ModifyPort", "ConstructDisasterRecovery", "DeConstructDisasterRecovery",
        "SwitchOverDisasterRecovery", "BuildBiActiveInstance", "ReleaseBiActiveInstance", "BackupInstance",
    }
)  # fmt: skip
"""ListJobs' ``status`` and ``name`` values (SDK ``ListJobsRequest``)."""
TASK_NAMES = frozenset({"REBOOT", "RESIZE_FLAVOR", "UPGRADE_DATABASE"})
TASK_STATUSES = frozenset({"Pending", "Running", "Completed", "Failed", "Canceled"})
"""ListNosqlTaskList's ``job_name`` and ``job_status`` values (SDK ``ListNosqlTaskListRequest``)."""
DATASTORE_TYPES = frozenset({"cassandra", "mongodb", "influxdb", "redis", "dynamodb", "hbase"})
"""ListInstances' ``datastore_type`` values (SDK ``ListInstancesRequest``)."""
"""ListJobs' only page sizes (SDK ``ListJobsRequest.limit``)."""
TASK_DEFAULT_HISTORY = timedelta(days=7)
"""ListNosqlTaskList's default ``start_time``: now minus 7 days (SDK ``ListNosqlTaskListRequest``)."""
MATCH_KEYS = frozenset({"instance_name", "instance_id"})
BACKUP_JOB = "BackupInstance"
BACKUP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{3,63}")
"""CreateBack's ``name``: 4-64 characters starting with a letter; letters, digits, hyphens, underscores."""
BACKUP_TYPES = frozenset({"Auto", "Manual"})
BACKUP_KINDS = frozenset({"Instance", "DatabaseTable"})
"""ListBackups v4's ``backup_type`` and ``type`` values (SDK ``ListBackupsRequest``)."""
TAG_KEY_CHARS = 36
TAG_VALUE_CHARS = 43


def upgrade_duration(instance: dict[str, Any]) -> timedelta:
    """How long an upgrade job runs: the upper bounds Huawei's user guides give per engine."""
    nodes = sum(len(group.get("nodes", [])) for group in instance.get("groups", []))
    engine = instance["datastore"]["type"]
    if engine == "cassandra":
        return timedelta(seconds=600 + nodes * 120)
    if engine == "redis":
        return timedelta(seconds=900 + nodes * 120)
    return timedelta(seconds=300 + nodes * 60)


def _bump(version: str) -> str:
    head, _, last = version.rpartition(".")
    return f"{head}.{int(last) + 1}" if head and last.isdigit() else version


@dataclass
class Job:
    """One asynchronous job, as ListJobs reports it."""

    id: str
    name: str
    instance_id: str
    instance_name: str
    start: datetime
    duration: timedelta
    status: str = "Running"
    end: datetime | None = None
    fail_reason: str = ""

    def to_api(self, now: datetime) -> dict[str, Any]:
        """The JobDetail shape."""
        progress = ""
        if self.status == "Running":
            done = (now - self.start) / self.duration if self.duration else 1.0
            progress = f"{min(99, max(0, int(done * 100)))}%"
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "start_time": self.start.strftime(HUAWEI_TIME),
            "end_time": self.end.strftime(HUAWEI_TIME) if self.end else "",
            "progress": progress,
            "instance": {"id": self.instance_id, "name": self.instance_name},
            "fail_reason": self.fail_reason,
        }


@dataclass
class Backend:
    """Instances, jobs and scheduled tasks of one project, and the rules the real API applies.

    Indexed so that every call costs what its answer costs, not the fleet's size: instances are kept newest
    first (and per engine), jobs in start order with the running ones by instance and by finish time. Writes
    (submissions, finishing jobs, new instances) hold ``lock``; reads take no lock: they read the current
    index, which a write replaces rather than changes in place.
    """

    fleet: Fleet
    clock: SimClock
    instances: dict[str, dict[str, Any]] = field(init=False)
    jobs: list[Job] = field(default_factory=list)
    """Every job, oldest start first."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    created_at: datetime = field(init=False)
    _newest_first: tuple[str, ...] = field(init=False, default=())
    _newest_first_by_engine: dict[str, tuple[str, ...]] = field(init=False, default_factory=dict)
    _due: list[tuple[datetime, int, Job]] = field(init=False, default_factory=list)
    """Running jobs as a heap on their finish time."""
    _running_on: Counter[str] = field(init=False, default_factory=Counter)
    _task_starts: list[tuple[datetime, int]] = field(init=False, default_factory=list)
    """Pending upgrade tasks with a start time, as ``(start, index into fleet.scheduled_tasks)``, earliest first."""
    _task_of_job: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)
    _sequence: itertools.count[int] = field(init=False, default_factory=itertools.count)
    backups: list[dict[str, Any]] = field(init=False, default_factory=list)
    """Every backup in ListBackups' ``Backup`` shape."""
    _backup_of_job: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.instances = {item["id"]: copy.deepcopy(item) for item in self.fleet.instances}
        self._index_instances()
        now = self.created_at = self.clock.now()
        self._seed_backups(now)
        for seeded in self.fleet.jobs:
            instance = self.instances[seeded["instance_id"]]
            start = (
                datetime.strptime(seeded["start_time"], HUAWEI_TIME).replace(tzinfo=now.tzinfo)
                if "start_time" in seeded
                else now
            )
            job = Job(
                id=seeded.get("id", str(uuid.uuid4())),
                name=seeded.get("name", self.fleet.behaviour.upgrade_job_name),
                instance_id=instance["id"],
                instance_name=instance["name"],
                start=start,
                duration=timedelta(minutes=float(seeded["minutes"]))
                if "minutes" in seeded
                else upgrade_duration(instance),
                status=seeded.get("status", "Running"),
                fail_reason=seeded.get("fail_reason", ""),
            )
            if job.status != "Running":
                job.end = start + job.duration
            self._add_job(job)
        self.jobs.sort(key=lambda j: j.start)
        for index, task in enumerate(self.fleet.scheduled_tasks):
            if task.get("start_time") and task.get("job_name", UPGRADE_TASK) == UPGRADE_TASK:
                start = datetime.strptime(task["start_time"], HUAWEI_TIME).replace(tzinfo=now.tzinfo)
                self._task_starts.append((start, index))
        self._task_starts.sort()

    def _seed_backups(self, now: datetime) -> None:
        """An automated full backup per instance (``backup_ages``, by default ended 6 h ago), then the fleet's own."""
        for instance in self.instances.values():
            age = self.fleet.backup_ages.get(instance["id"], DEFAULT_BACKUP_AGE_HOURS)
            if age is not None:
                ended = now - timedelta(hours=age)
                self.backups.append(self._backup(instance, "Auto", "COMPLETED", ended - timedelta(minutes=20), ended))
        for given in self.fleet.backups:
            instance = self.instances[given["instance_id"]]
            item = self._backup(instance, given.get("type", "Auto"), given.get("status", "COMPLETED"), now, None)
            self.backups.append({**item, **given})

    def _backup(
        self, instance: dict[str, Any], kind: str, status: str, began: datetime, ended: datetime | None, name: str = ""
    ) -> dict[str, Any]:
        """A ``Backup`` of ListBackups v4."""
        return {
            "id": f"{uuid.uuid4().hex}br02",
            "name": name or f"{kind.lower()}-{began:%Y%m%d%H%M%S}",
            "description": "",
            "instance_id": instance["id"],
            "instance_name": instance["name"],
            "datastore": {"type": instance["datastore"]["type"], "version": instance["datastore"].get("version", "")},
            "type": kind,
            "size": 1024.0,
            "status": status,
            "begin_time": began.strftime(HUAWEI_TIME),
            "end_time": ended.strftime(HUAWEI_TIME) if ended else "",
        }

    def _start_due_tasks(self, now: datetime) -> None:
        """A pending upgrade task whose window has come starts its upgrade job (the task is then ``Running``)."""
        while self._task_starts and self._task_starts[0][0] <= now:
            start, index = self._task_starts.pop(0)
            task = self.fleet.scheduled_tasks[index]
            instance = self.instances.get(task["instance_id"])
            if task.get("job_status", "Pending") != "Pending" or instance is None:
                continue
            job = Job(str(uuid.uuid4()), self.fleet.behaviour.upgrade_job_name, instance["id"], instance["name"],
                      start, upgrade_duration(instance))  # fmt: skip
            self._add_job(job)
            if self.fleet.behaviour.upgrade_action:
                instance["actions"] = [*instance["actions"], self.fleet.behaviour.upgrade_action]
            task["job_status"] = "Running"
            self._task_of_job[job.id] = task

    def _index_instances(self) -> None:
        order = tuple(sorted(self.instances, key=lambda i: self.instances[i]["created"], reverse=True))
        by_engine: dict[str, list[str]] = {}
        for instance_id in order:
            by_engine.setdefault(self.instances[instance_id]["datastore"]["type"], []).append(instance_id)
        self._newest_first_by_engine = {engine: tuple(ids) for engine, ids in by_engine.items()}
        self._newest_first = order

    def _add_job(self, job: Job) -> None:
        self.jobs.append(job)
        if job.status == "Running":
            heapq.heappush(self._due, (job.start + job.duration, next(self._sequence), job))
            self._running_on[job.instance_id] += 1

    # -- time ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Finish every running job whose time has come, applying its effect to the instance."""
        now = self.clock.now()
        if self._task_starts and self._task_starts[0][0] <= now:
            with self.lock:
                self._start_due_tasks(now)
        if not self._due or self._due[0][0] > now:
            return
        with self.lock:
            while self._due and self._due[0][0] <= now:
                _, _, job = heapq.heappop(self._due)
                if job.status != "Running":
                    continue
                self._running_on[job.instance_id] -= 1
                job.end = job.start + job.duration
                instance = self.instances.get(job.instance_id)
                failures = self.fleet.failing_backups if job.name == BACKUP_JOB else self.fleet.failing_upgrades
                failure = failures.get(job.instance_id)
                job.status = "Failed" if failure else "Completed"
                job.fail_reason = failure or ""
                backup = self._backup_of_job.pop(job.id, None)
                if backup is not None:
                    backup["status"] = "FAILED" if failure else "COMPLETED"
                    backup["end_time"] = job.end.strftime(HUAWEI_TIME)
                if job.id in self._task_of_job:
                    self._task_of_job.pop(job.id)["job_status"] = job.status
                if instance is None or job.name != self.fleet.behaviour.upgrade_job_name:
                    continue
                instance["actions"] = [a for a in instance["actions"] if a != self.fleet.behaviour.upgrade_action]
                instance["updated"] = job.end.strftime("%Y-%m-%dT%H:%M:%S")
                if not failure:
                    datastore = instance["datastore"]
                    datastore["patch_available"] = False
                    if datastore.get("whole_version"):
                        datastore["whole_version"] = _bump(datastore["whole_version"])

    def add_instance(self) -> str:
        """Create a new, patchable Cassandra instance (newest of all); returns its ID."""
        with self.lock:
            new_id = f"{uuid.uuid4().hex}in06"
            item = complete_instance(
                {"id": new_id, "name": f"new-{new_id[:8]}", "datastore": {"type": "cassandra"}},
                index=len(self.instances),
            )
            item["created"] = self.clock.now().strftime("%Y-%m-%dT%H:%M:%S")
            self.instances[new_id] = item
            self._index_instances()
            return new_id

    def remove_newest_instance(self) -> str:
        """Delete the newest instance (as if deleted meanwhile); returns its ID."""
        with self.lock:
            gone = self._newest_first[0]
            del self.instances[gone]
            self._index_instances()
            return gone

    # -- reads --------------------------------------------------------------------------------

    def list_instances(self, query: dict[str, str]) -> dict[str, Any]:
        """ListInstances: filters, newest first, ``offset``/``limit`` paging, ``total_count``."""
        offset = _int_param(query, "offset", 0, 0, None)
        limit = _int_param(query, "limit", 100, 1, 100)
        _check_value(query, "datastore_type", DATASTORE_TYPES)
        engine = query.get("datastore_type")
        order = self._newest_first if engine is None else self._newest_first_by_engine.get(engine, ())
        instances = self.instances
        selected: Sequence[str] = order
        if "id" in query or "name" in query or (engine is not None and "mode" in query):
            selected = [
                instance_id
                for instance_id in order
                if _fuzzy(query.get("id"), instance_id)
                and _fuzzy(query.get("name"), instances[instance_id]["name"])
                and (engine is None or "mode" not in query or instances[instance_id]["mode"] == query["mode"])
            ]
        page = [copy.deepcopy(instances[instance_id]) for instance_id in selected[offset : offset + limit]]
        return {"instances": page, "total_count": len(selected)}

    def list_jobs(self, query: dict[str, str]) -> dict[str, Any]:
        """ListJobs: by ``id``, or by name/status and a start-time window, paged."""
        offset = _int_param(query, "offset", 0, 0, None)
        limit = _int_param(query, "limit", 50, 10, 50)
        if limit not in JOB_PAGE_LIMITS:
            raise SimError(400, "DBS.200001", "Parameter error: limit must be 10, 20 or 50.")
        now = self.clock.now()
        start = _time_param(query, "start_time", now - timedelta(days=30))
        end = _time_param(query, "end_time", now)
        if end <= start or end - start > timedelta(days=30):
            raise SimError(400, "DBS.200001", "end_time must be later than start_time, within 30 days.")
        self._strict_times(end, end - start >= timedelta(days=30), now)
        _check_value(query, "status", JOB_STATUSES)
        _check_value(query, "name", JOB_NAMES | {self.fleet.behaviour.upgrade_job_name})
        candidates = [job for _, _, job in tuple(self._due)] if query.get("status") == "Running" else tuple(self.jobs)
        jobs = sorted(
            (
                job
                for job in candidates
                if (query.get("id") == job.id if "id" in query else start <= job.start <= end)
                and query.get("name", job.name) == job.name
                and query.get("status", job.status) == job.status
            ),
            key=lambda j: j.start,
            reverse=True,
        )
        page = [job.to_api(now) for job in jobs[offset : offset + limit]]
        return {"jobs": page, "total_count": len(jobs)}

    def query_by_tags(self, body: Any) -> dict[str, Any]:
        """ListInstancesByResourceTags (``action=filter``): every tag key present with one of its values."""
        if not isinstance(body, dict) or body.get("action") not in ("filter", "count"):
            raise SimError(400, "DBS.200001", "Parameter error: action must be 'filter' or 'count'.")
        tags = body.get("tags", [])
        if not isinstance(tags, list) or len(tags) > 20 or not all(_valid_tag_option(t) for t in tags):
            raise SimError(400, "DBS.200001", "Parameter error: tags.")
        matches = body.get("matches", [])
        if not isinstance(matches, list) or not all(_valid_match(m) for m in matches):
            raise SimError(400, "DBS.200001", "Parameter error: matches.")
        if body["action"] == "count" and ("offset" in body or "limit" in body):
            raise SimError(400, "DBS.200001", "Parameter error: count takes no offset or limit.")
        offset = _int_param({k: str(v) for k, v in body.items() if k == "offset"}, "offset", 0, 0, None)
        limit = _int_param({k: str(v) for k, v in body.items() if k == "limit"}, "limit", 100, 1, 100)
        matched = [
            item
            for item in (self.instances[instance_id] for instance_id in self._newest_first)
            if all(_has_tag(self.fleet.tags.get(item["id"], {}), tag) for tag in tags)
            and all(_matches(item, match) for match in matches)
        ]
        if body["action"] == "count":
            return {"total_count": len(matched)}
        page = [
            {
                "instance_id": item["id"],
                "instance_name": item["name"],
                "tags": [{"key": k, "value": v} for k, v in sorted(self.fleet.tags.get(item["id"], {}).items())],
            }
            for item in matched[offset : offset + limit]
        ]
        return {"instances": page, "total_count": len(matched)}

    def list_scheduled_tasks(self, query: dict[str, str]) -> dict[str, Any]:
        """ListNosqlTaskList: filters, and ``start_time``/``end_time`` on the creation time (default: 7 days)."""
        offset = _int_param(query, "offset", 0, 0, None)
        limit = _int_param(query, "limit", 10, 1, 100)
        _check_value(query, "job_name", TASK_NAMES)
        _check_value(query, "job_status", TASK_STATUSES)
        now = self.clock.now()
        created_from = _time_param(query, "start_time", now - TASK_DEFAULT_HISTORY)
        created_to = _time_param(query, "end_time", now)
        if created_to <= created_from:
            raise SimError(400, "DBS.200001", "Parameter error: end_time must be later than start_time.")
        self._strict_times(created_to, False, now)
        span = self.fleet.behaviour.scheduled_task_max_span_days
        if span is not None and created_to - created_from > timedelta(days=span):
            raise SimError(400, "DBS.200001", f"Parameter error: the time span exceeds {span} days.")
        tasks = []
        for index, seeded in enumerate(self.fleet.scheduled_tasks):
            created = seeded.get("create_time") or self.created_at.strftime(HUAWEI_TIME)
            if not created_from <= datetime.strptime(created, HUAWEI_TIME).replace(tzinfo=now.tzinfo) <= created_to:
                continue
            instance = self.instances.get(seeded["instance_id"], {})
            task = {
                "job_id": seeded.get("job_id", f"sched-{index:04d}"),
                "job_name": seeded.get("job_name", UPGRADE_TASK),
                "job_status": seeded.get("job_status", "Pending"),
                "instance_id": seeded["instance_id"],
                "instance_name": instance.get("name", ""),
                "instance_status": instance.get("status", ""),
                "datastore_type": instance.get("datastore", {}).get("type", ""),
                "create_time": created,
                "start_time": seeded.get("start_time", ""),
                "end_time": seeded.get("end_time", ""),
            }
            if all(query.get(key, task[key]) == task[key] for key in ("job_name", "job_status", "instance_id")):
                tasks.append(task)
        return {"total_count": len(tasks), "schedules": tasks[offset : offset + limit]}

    def _strict_times(self, end: datetime, full_span: bool, now: datetime) -> None:
        """``behaviour.strict_time_filters``: no end in the future (to the second), no span of 30 days or more."""
        if not self.fleet.behaviour.strict_time_filters:
            return
        if end > now.replace(microsecond=0) + timedelta(seconds=1) or full_span:
            raise SimError(400, "DBS.200001", "Parameter error: end_time is later than now or the span is too long.")

    def instance_role(self, instance_id: str) -> dict[str, Any]:
        """ShowInstanceRole: ``master``/``slave`` for a member of a Redis DR pair (documented for Redis only).

        For another engine Huawei documents nothing; the 400 here is assumed (docs/fidelity.md).
        """
        instance = self.instances.get(instance_id)
        if instance is None:
            raise SimError(404, "DBS.200002", "The DB instance does not exist.")
        if instance["datastore"]["type"] not in ROLE_API_ENGINES:
            raise SimError(400, "DBS.200001", "Parameter error: this API supports GeminiDB Redis instances only.")
        role = self.fleet.dr_roles.get(instance_id)
        if not instance.get("dr_instance_id") or role is None:
            raise SimError(400, "DBS.200001", "Parameter error: the instance is not in a disaster-recovery pair.")
        return {"role": role}

    # -- the batch upgrade --------------------------------------------------------------------

    def batch_upgrade(self, body: Any) -> dict[str, Any]:
        """BatchUpgradeDatabaseVersion: batch rules → 400; per-item errors inside a 202."""
        ids = body.get("instance_ids") if isinstance(body, dict) else None
        unknown = sorted(set(body) - {"instance_ids"}) if isinstance(body, dict) else []
        if unknown:
            raise SimError(400, "DBS.200001", f"Parameter error: unknown fields {unknown}.")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise SimError(400, "DBS.200001", "Parameter error: instance_ids must be a non-empty list.")
        if len(ids) > MAX_BATCH:
            raise SimError(400, "DBS.200001", f"Parameter error: at most {MAX_BATCH} instance_ids.")
        if len(set(ids)) != len(ids):
            raise SimError(400, "DBS.200001", "Parameter error: duplicate instance_ids.")
        now = self.clock.now()
        with self.lock:
            engines = [self.instances[i]["datastore"]["type"] for i in ids if i in self.instances]
            if len(set(engines)) > 1 and self.fleet.behaviour.mixed_engine_batch == "400":
                raise SimError(400, "DBS.200001", "Parameter error: instances must be of one engine.")
            if engines and not set(engines) <= SUPPORTED_ENGINES and len(set(engines)) == 1:
                raise SimError(404, "DBS.200042", "Invalid datastore: patching is not supported.")
            first = engines[0] if engines else None
            if self.fleet.behaviour.state_refusal == "whole_batch":
                for instance_id in ids:
                    refusal = self._refusal(self.instances.get(instance_id), instance_id)
                    if refusal is not None and refusal[0] in STATE_REFUSALS:
                        raise SimError(403, *refusal)
            if self.fleet.behaviour.atomic_upgrade_check:
                return {"upgrade_results": [self._upgrade_one(instance_id, now, first) for instance_id in ids]}
        # a server that checks, then creates, without holding a lock between: two racing calls both pass the check
        checked = {instance_id: self._upgrade_refusal(instance_id, first) for instance_id in ids}
        time.sleep(NON_ATOMIC_GAP)
        with self.lock:
            return {"upgrade_results": [self._create_upgrade(i, now, checked[i]) for i in ids]}

    def _upgrade_refusal(self, instance_id: str, engine: str | None) -> tuple[str, str] | None:
        instance = self.instances.get(instance_id)
        refusal = self._refusal(instance, instance_id)
        if refusal is None and instance is not None and instance["datastore"]["type"] != engine:
            refusal = "DBS.200001", "Parameter error: the batch's instances must be of one engine."
        if refusal is None and instance is not None and instance["datastore"]["type"] not in SUPPORTED_ENGINES:
            refusal = "DBS.200042", "Invalid datastore: patching is not supported."
        return refusal

    def _upgrade_one(self, instance_id: str, now: datetime, engine: str | None) -> dict[str, Any]:
        return self._create_upgrade(instance_id, now, self._upgrade_refusal(instance_id, engine))

    def _create_upgrade(self, instance_id: str, now: datetime, refusal: tuple[str, str] | None) -> dict[str, Any]:
        if refusal:
            code, message = refusal
            return {"instance_id": instance_id, "error_code": code, "error_message": message}
        instance = self.instances[instance_id]
        behaviour = self.fleet.behaviour
        job = Job(
            str(uuid.uuid4()),
            behaviour.upgrade_job_name,
            instance_id,
            instance["name"],
            now,
            upgrade_duration(instance),
        )
        self._add_job(job)
        if behaviour.upgrade_action:
            instance["actions"] = [*instance["actions"], behaviour.upgrade_action]
        return {"instance_id": instance_id, "job_id": job.id}

    def _refusal(self, instance: dict[str, Any] | None, instance_id: str) -> tuple[str, str] | None:
        if instance is None:
            return "DBS.200002", "The DB instance does not exist."
        forced = self.fleet.reject_upgrades.get(instance_id)
        if forced:
            return forced, "Another operation is being performed on the DB instance or the instance is faulty."
        if instance["status"] != "normal":
            return "DBS.200011", "The status of DB instance does not allow the operation."
        nodes = [n for g in instance.get("groups", []) for n in g.get("nodes", [])]
        if any(node.get("status") != "normal" for node in nodes):
            return "DBS.200018", "The status of the DB instance or node does not allow the operation."
        if instance["actions"] or self._running_on[instance_id] > 0:
            return "DBS.200019", "Another operation is being performed on the DB instance."
        if any(
            task["instance_id"] == instance_id
            and task.get("job_name", UPGRADE_TASK) == UPGRADE_TASK
            and task.get("job_status", "Pending") == "Pending"
            for task in self.fleet.scheduled_tasks
        ):  # assumed: a patch already scheduled into the window excludes an immediate one (docs/fidelity.md)
            return "DBS.200019", "A patch upgrade is already scheduled for this instance."
        if not instance["datastore"].get("patch_available"):
            return self.fleet.behaviour.no_patch_code, "Invalid database version: no patch is available."
        return None

    def list_backups(self, query: dict[str, str]) -> dict[str, Any]:
        """ListBackups v4: filters, newest first (by begin time), ``offset``/``limit`` (1-100) paging; ``begin_time``
        and ``end_time`` only together, filtering on a backup's begin time."""
        offset = _int_param(query, "offset", 0, 0, None)
        limit = _int_param(query, "limit", 100, 1, 100)
        _check_value(query, "backup_type", BACKUP_TYPES)
        _check_value(query, "type", BACKUP_KINDS)
        _check_value(query, "datastore_type", DATASTORE_TYPES)
        if ("begin_time" in query) != ("end_time" in query):
            raise SimError(400, "DBS.200001", "Parameter error: begin_time and end_time go together.")
        begin = _time_param(query, "begin_time", datetime.min.replace(tzinfo=self.created_at.tzinfo))
        end = _time_param(query, "end_time", datetime.max.replace(tzinfo=self.created_at.tzinfo))
        if end < begin:
            raise SimError(400, "DBS.200001", "Parameter error: end_time is before begin_time.")
        with self.lock:
            chosen = [
                copy.deepcopy(item)
                for item in self.backups
                if query.get("type", "Instance") == "Instance"
                and query.get("instance_id", item["instance_id"]) == item["instance_id"]
                and query.get("backup_id", item["id"]) == item["id"]
                and query.get("backup_type", item["type"]) == item["type"]
                and query.get("datastore_type", item["datastore"]["type"]) == item["datastore"]["type"]
                and begin <= datetime.strptime(item["begin_time"], "%Y-%m-%dT%H:%M:%S%z") <= end
            ]
        chosen.sort(key=lambda item: item["begin_time"], reverse=True)
        return {"total_count": len(chosen), "backups": chosen[offset : offset + limit]}

    def create_backup(self, instance_id: str, body: Any) -> dict[str, Any]:
        """CreateBack: ``name`` 4-64 characters from a letter, ``description`` ≤ 256; a ``BackupInstance`` job and a
        BUILDING backup; refused while the instance is not normal or another job runs on it."""
        if not isinstance(body, dict) or set(body) - {"name", "description", "database_tables"}:
            raise SimError(400, "DBS.200001", "Parameter error: body.")
        name, description = body.get("name"), body.get("description", "")
        if not isinstance(name, str) or not BACKUP_NAME.fullmatch(name):
            raise SimError(400, "DBS.200001", "Parameter error: name.")
        if not isinstance(description, str) or len(description) > 256:
            raise SimError(400, "DBS.200001", "Parameter error: description.")
        with self.lock:
            instance = self.instances.get(instance_id)
            if instance is None:
                raise SimError(404, "DBS.200042", "The DB instance does not exist.")
            if instance["status"] != "normal":
                raise SimError(403, "DBS.200011", "The status of DB instance does not allow the operation.")
            if instance["actions"] or self._running_on[instance_id] > 0:
                raise SimError(403, "DBS.200019", "Another operation is being performed on the DB instance.")
            now = self.clock.now()
            backup = self._backup(instance, "Manual", "BUILDING", now, None, name)
            backup["description"] = description
            minutes = self.fleet.behaviour.backup_minutes
            job = Job(str(uuid.uuid4()), BACKUP_JOB, instance_id, instance["name"], now, timedelta(minutes=minutes))
            self.backups.append(backup)
            self._backup_of_job[job.id] = backup
            self._add_job(job)
        return {"job_id": job.id, "backup_id": backup["id"]}

    def snapshot(self) -> dict[str, Any]:
        """State for the control API and the tests."""
        now = self.clock.now()
        with self.lock:
            return {
                "now": now.strftime(HUAWEI_TIME),
                "instances": copy.deepcopy(list(self.instances.values())),
                "jobs": [job.to_api(now) for job in self.jobs],
                "backups": copy.deepcopy(self.backups),
            }


def _valid_tag_option(option: Any) -> bool:
    """``TagOption``: a non-blank key ≤ 36 characters, values ≤ 43 characters each."""
    if not isinstance(option, dict) or set(option) - {"key", "values"}:
        return False
    key, values = option.get("key"), option.get("values", [])
    return (
        isinstance(key, str)
        and bool(key.strip())
        and len(key) <= TAG_KEY_CHARS
        and isinstance(values, list)
        and all(isinstance(v, str) and v.strip() and len(v) <= TAG_VALUE_CHARS for v in values)
    )


def _valid_match(match: Any) -> bool:
    """``MatchOption``: ``key`` is ``instance_name`` or ``instance_id``, ``value`` a string."""
    return isinstance(match, dict) and match.get("key") in MATCH_KEYS and isinstance(match.get("value"), str)


def _matches(item: dict[str, Any], match: dict[str, str]) -> bool:
    """An instance matches by exact ID, or by name containing the value (assumed: docs/fidelity.md)."""
    if match["key"] == "instance_id":
        return bool(item["id"] == match["value"])
    return match["value"] in item["name"]


def _has_tag(tags: dict[str, str], wanted: dict[str, Any]) -> bool:
    values = wanted.get("values") or []
    return wanted["key"] in tags and (not values or tags[wanted["key"]] in values)


def _fuzzy(pattern: str | None, value: str) -> bool:
    if pattern is None:
        return True
    return pattern[1:] in value if pattern.startswith("*") else pattern == value


def _check_value(query: dict[str, str], name: str, allowed: frozenset[str]) -> None:
    """A filter with a documented set of values refuses any other, as a strict server would."""
    if name in query and query[name] not in allowed:
        raise SimError(400, "DBS.200001", f"Parameter error: {name}.")


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        raise SimError(400, "DBS.200001", f"Parameter error: {name}.")
    return int(raw)


def _time_param(query: dict[str, str], name: str, default: datetime) -> datetime:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        raise SimError(400, "DBS.200001", f"Parameter error: {name}.") from None
