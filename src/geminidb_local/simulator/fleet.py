"""Fleet files: instances in ListInstances' own item shape, with every missing field defaulted."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_PROJECT_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_REGION = "ap-southeast-1"
DEMO_AK = "SIMULATORAKEXAMPLE00"
DEMO_SK = "simulator-secret-key-not-a-real-one-000000"

_ENGINE_DEFAULTS: dict[str, dict[str, Any]] = {
    "cassandra": {"version": "3.11", "whole_version": "3.11.5.4", "mode": "Cluster", "port": "8635"},
    "influxdb": {"version": "1.8", "whole_version": "", "mode": "Cluster", "port": "8635"},
    "redis": {"version": "6.2", "whole_version": "", "mode": "Cluster", "port": "6379"},
    "mongodb": {"version": "4.0", "whole_version": "", "mode": "ReplicaSet", "port": "8635"},
    "dynamodb": {"version": "1.0", "whole_version": "", "mode": "Cluster", "port": "8000"},
    "hbase": {"version": "2.0", "whole_version": "", "mode": "Cluster", "port": "8635"},
}


@dataclass(frozen=True)
class Credentials:
    """What the simulator accepts: one access key pair, optional IAM user, one project."""

    ak: str = DEMO_AK
    sk: str = DEMO_SK
    project_id: str = DEFAULT_PROJECT_ID
    security_token: str | None = None
    iam_user: str | None = None
    iam_password: str | None = None
    iam_domain: str | None = None
    region: str = DEFAULT_REGION
    iam_user_project_id: str | None = None
    """The IAM user's own project in ``region`` when the user lives in another account (agency setups)."""
    agency_domain_id: str | None = None
    agency_name: str | None = None
    """The agency the delegating account (``project_id``'s) grants the IAM user."""

    def __repr__(self) -> str:
        return f"Credentials(ak={self.ak[:4]}…, project_id={self.project_id})"


@dataclass(frozen=True)
class Behaviour:
    """Which way the simulator plays what Huawei's documents leave open (docs/fidelity.md, "assumed" rows)."""

    upgrade_job_name: str = "UpgradeDbVersion"
    """ListJobs' name for a batch patch's job (documented only as a filter value)."""
    upgrade_action: str = "UPGRADE_DATABASE"
    """The ``actions`` entry while a patch runs; ``""`` shows none."""
    no_patch_code: str = "DBS.280236"
    """The per-item error code for an instance without a patch."""
    mixed_engine_batch: str = "400"
    """``"400"``: a batch of several engines is refused whole; ``"per_item"``: the odd ones get item errors."""
    project_mismatch: tuple[int, str] = (401, "APIG.0301")
    """Status and code when the path's project is not the credentials'."""
    scheduled_task_max_span_days: int | None = None
    """The longest span from ``start_time`` to ``end_time`` ListNosqlTaskList accepts (none is documented)."""
    state_refusal: str = "per_item"
    """How an instance whose state refuses a patch is answered: ``"per_item"`` (an item error in the 202) or
    ``"whole_batch"`` (the whole request refused with 403 and that code; nothing is started)."""
    atomic_upgrade_check: bool = True
    """``False``: a db-upgrade checks each instance, then creates its job, without a lock between, so two calls at
    once can both start an upgrade of one instance (Huawei documents neither way; the function's lease guards)."""
    backup_minutes: float = 10.0
    """How long a manual backup (CreateBack's ``BackupInstance`` job) runs before it is COMPLETED."""
    strict_time_filters: bool = False
    """Refuse an ``end_time`` in the future on ListJobs and ListNosqlTaskList, and a ListJobs span of 30 days or
    more (the documented limit read strictly); by default a later end is accepted, as a lenient server would."""

    @classmethod
    def from_json(cls, document: Any) -> Behaviour:
        """Parse the fleet file's ``behaviour`` object; unknown keys are an error."""
        if not isinstance(document, dict) or set(document) - set(cls.__dataclass_fields__):
            raise ValueError(f"behaviour takes only {sorted(cls.__dataclass_fields__)}")
        if document.get("mixed_engine_batch", "400") not in ("400", "per_item"):
            raise ValueError("behaviour.mixed_engine_batch is '400' or 'per_item'")
        if document.get("state_refusal", "per_item") not in ("per_item", "whole_batch"):
            raise ValueError("behaviour.state_refusal is 'per_item' or 'whole_batch'")
        values = dict(document)
        if "project_mismatch" in values:
            status, code = values["project_mismatch"]
            values["project_mismatch"] = (int(status), str(code))
        return cls(**values)


@dataclass
class Fleet:
    """Everything a fleet file can hold."""

    instances: list[dict[str, Any]]
    credentials: Credentials = field(default_factory=Credentials)
    scheduled_tasks: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    failing_upgrades: dict[str, str] = field(default_factory=dict)
    reject_upgrades: dict[str, str] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    """instance ID → its tags; read through the tag query API, not ListInstances."""
    dr_roles: dict[str, str] = field(default_factory=dict)
    """instance ID → ``master``/``slave`` in its DR pair; read through ShowInstanceRole, not ListInstances."""
    smn_topics: list[str] = field(default_factory=lambda: ["patch-reports"])
    """Names of the SMN topics that exist in the fleet's project; others answer SMN.0006."""
    smn_templates: list[str] = field(default_factory=list)
    """Names of the SMN message templates that exist."""
    backup_ages: dict[str, float | None] = field(default_factory=dict)
    """instance ID → hours before the simulator starts that its last automated full backup ended; ``None``: it has
    none. An instance not named here has one that ended ``DEFAULT_BACKUP_AGE_HOURS`` before."""
    backups: list[dict[str, Any]] = field(default_factory=list)
    """More backups, in ListBackups' ``Backup`` shape (``instance_id``, ``status``, ``type``, times)."""
    failing_backups: dict[str, str] = field(default_factory=dict)
    """instance ID → why its manual backups fail (the job ``Failed``, the backup ``FAILED``)."""
    iam_projects: list[dict[str, Any]] | None = None
    """What IAM's ``GET /v3/auth/projects`` lists (``AuthProjectResult`` items); ``None``: the account itself and
    its one region project, the credentials'."""
    behaviour: Behaviour = field(default_factory=Behaviour)


def _nodes(instance_id: str, engine: str, count: int, status: str = "normal") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{instance_id[:24]}node{index:02d}no13",
            "name": f"node-{index}",
            "status": status,
            "role": "",
            "subnet_id": "subnet-sim",
            "private_ip": f"192.168.0.{10 + index}",
            "public_ip": "",
            "spec_code": f"geminidb.{engine}.xlarge.4",
            "availability_zone": "ap-southeast-1a",
            "support_reduce": False,
        }
        for index in range(count)
    ]


def complete_instance(partial: dict[str, Any], *, index: int = 0) -> dict[str, Any]:
    """Fill every ListInstancesResult field the partial item leaves out."""
    item = copy.deepcopy(partial)
    if "id" not in item:
        raise ValueError(f"instance #{index} has no id")
    datastore = item.setdefault("datastore", {})
    engine = str(datastore.setdefault("type", "cassandra")).lower()
    datastore["type"] = engine
    defaults = _ENGINE_DEFAULTS.get(engine, _ENGINE_DEFAULTS["cassandra"])
    datastore.setdefault("version", defaults["version"])
    datastore.setdefault("whole_version", defaults["whole_version"])
    if datastore["whole_version"] and engine != "cassandra":
        raise ValueError(
            f"instance #{index} ({engine}): whole_version is only populated for GeminiDB Cassandra "
            "(ListInstancesDatastoreResult); give the major version in datastore.version"
        )
    datastore.setdefault("patch_available", True)
    created = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=index)
    item.setdefault("name", f"{engine}-{index:03d}")
    item.setdefault("status", "normal")
    item.setdefault("port", defaults["port"])
    item.setdefault("region", DEFAULT_REGION)
    item.setdefault("mode", defaults["mode"])
    if engine == "redis" and item["mode"] == "CloudNativeCluster":
        item.setdefault("product_type", "Standard")  # the only kind of instance that has one
    item.setdefault("engine", "rocksDB")
    item.setdefault("created", created.strftime("%Y-%m-%dT%H:%M:%S"))
    item.setdefault("updated", item["created"])
    item.setdefault("db_user_name", "rwuser")
    item.setdefault("vpc_id", "vpc-sim")
    item.setdefault("subnet_id", "subnet-sim")
    item.setdefault("security_group_id", "sg-sim")
    item.setdefault("backup_strategy", {"start_time": "16:00-17:00", "keep_days": 7})
    item.setdefault("pay_mode", "0")
    item.setdefault("maintenance_window", "02:00-06:00")
    node_count = int(item.pop("node_count", 3))
    abnormal_nodes = int(item.pop("abnormal_nodes", 0))
    nodes = _nodes(item["id"], engine, node_count)
    for node in nodes[:abnormal_nodes]:
        node["status"] = "abnormal"
    item.setdefault(
        "groups",
        [
            {
                "id": f"{item['id'][:24]}group01",
                "status": "normal",
                "volume": {"size": "100", "used": "1"},
                "nodes": nodes,
            }
        ],
    )
    item.setdefault("enterprise_project_id", "0")
    item.setdefault("time_zone", "")
    item.setdefault("actions", [])
    item.setdefault("disk_encryption_id", "")
    item.setdefault("availability_zone", "ap-southeast-1a")
    item.setdefault("dr_instance_id", "")
    item.setdefault("ssl", "0")
    return item


FLEET_KEYS = frozenset(
    {
        "instances", "credentials", "scheduled_tasks", "jobs", "failing_upgrades", "reject_upgrades", "tags",
        "dr_roles", "smn_topics", "smn_templates", "behaviour", "backups", "failing_backups", "iam_projects",
    }
)  # fmt: skip
SIMULATOR_ONLY_INSTANCE_KEYS = frozenset({"tags", "dr_role", "backup_age_hours"})
DEFAULT_BACKUP_AGE_HOURS = 6.0
"""An automated full backup ended this long before the simulator starts, for every instance that says nothing."""
"""Per-instance keys of a fleet file that other APIs answer for, not ListInstances."""


def parse_fleet(document: Any) -> Fleet:
    """Build a ``Fleet`` from a fleet document (``{"instances": [...], "credentials": {...}}``)."""
    if not isinstance(document, dict) or not isinstance(document.get("instances"), list):
        raise ValueError('a fleet file is {"instances": [...]} with optional "credentials"')
    if set(document) - FLEET_KEYS:
        raise ValueError(f"unknown fleet file keys: {sorted(set(document) - FLEET_KEYS)}")
    tags = {str(k): dict(v) for k, v in dict(document.get("tags", {})).items()}
    dr_roles = {str(k): str(v) for k, v in dict(document.get("dr_roles", {})).items()}
    backup_ages: dict[str, float | None] = {}
    for item in document["instances"]:
        if isinstance(item, dict) and isinstance(item.get("tags"), dict) and "id" in item:
            tags[item["id"]] = {str(k): str(v) for k, v in item["tags"].items()}
        if isinstance(item, dict) and "dr_role" in item and "id" in item:
            dr_roles[item["id"]] = str(item["dr_role"])
        if isinstance(item, dict) and "backup_age_hours" in item and "id" in item:
            age = item["backup_age_hours"]
            backup_ages[item["id"]] = None if age is None else float(age)
    instances = [
        complete_instance({k: v for k, v in item.items() if k not in SIMULATOR_ONLY_INSTANCE_KEYS}, index=i)
        for i, item in enumerate(document["instances"])
    ]
    ids = [item["id"] for item in instances]
    if len(set(ids)) != len(ids):
        raise ValueError("instance ids in a fleet file must be unique")
    creds = document.get("credentials") or {}
    known = set(Credentials.__dataclass_fields__)
    unknown = set(creds) - known
    if unknown:
        raise ValueError(f"unknown credential fields: {sorted(unknown)}")
    return Fleet(
        instances=instances,
        credentials=Credentials(**creds),
        scheduled_tasks=list(document.get("scheduled_tasks", [])),
        jobs=list(document.get("jobs", [])),
        failing_upgrades=dict(document.get("failing_upgrades", {})),
        reject_upgrades=dict(document.get("reject_upgrades", {})),
        tags=tags,
        dr_roles=dr_roles,
        smn_topics=[str(name) for name in document.get("smn_topics", ["patch-reports"])],
        smn_templates=[str(name) for name in document.get("smn_templates", [])],
        behaviour=Behaviour.from_json(document.get("behaviour", {})),
        backup_ages=backup_ages,
        backups=[dict(item) for item in document.get("backups", [])],
        failing_backups={str(k): str(v) for k, v in dict(document.get("failing_backups", {})).items()},
        iam_projects=[dict(item) for item in document["iam_projects"]] if "iam_projects" in document else None,
    )


def load_fleet(path: Path) -> Fleet:
    """Read and parse a fleet file."""
    return parse_fleet(json.loads(path.read_text(encoding="utf-8")))


def instance_id(rng: random.Random) -> str:
    """A random ID in GeminiDB's format: 32 hex digits, ``in``, a two-digit engine suffix."""
    return f"{rng.getrandbits(128):032x}in06"


def current_window(now: datetime, opens_in_hours: int = -1) -> str:
    """A four-hour ``HH:MM-HH:MM`` UTC window on the hour, opening ``opens_in_hours`` from ``now``."""
    start = (now + timedelta(hours=opens_in_hours)).replace(minute=0, second=0, microsecond=0)
    return f"{start:%H:%M}-{start + timedelta(hours=4):%H:%M}"


DR_ROLE_TAG = "patch-dr-role"
"""The function's default tag for a declared DR role (``PATCHER_DR_ROLE_TAG``)."""


def dr_pair(rng: random.Random, name: str, window: str, engine: str = "cassandra") -> list[dict[str, Any]]:
    """A disaster-recovery pair, standby first, each naming the other.

    A Redis pair's roles come from ShowInstanceRole (documented for Redis only); any other engine's pair
    declares them in the ``patch-dr-role`` tag, as an operator would.
    """
    ids = {"standby": instance_id(rng), "primary": instance_id(rng)}
    roles = {"standby": ("slave", "primary"), "primary": ("master", "standby")}
    pair = []
    for side in ("standby", "primary"):
        item: dict[str, Any] = {
            "id": ids[side],
            "name": f"{name}-{side}",
            "datastore": {"type": engine, "patch_available": True},
            "maintenance_window": window,
            "dr_instance_id": ids[roles[side][1]],
        }
        if engine == "redis":
            item["dr_role"] = roles[side][0]
        else:
            item["tags"] = {DR_ROLE_TAG: side}
        pair.append(item)
    return pair


DEMO_CASSANDRA_VERSIONS = ("3.11.5.4", "3.11.5.5")
"""The demo's Cassandra ``whole_version``s (behind, current); an upgrade in the simulator moves one to the other.

Huawei fills ``whole_version`` only for Cassandra; the other engines show their major ``version`` alone.
"""


SECOND_PROJECT_ID = "5c0d2e7a9b1f4c6e8d3a2b1c0f9e8d7c"
SECOND_REGION = "ap-southeast-3"
DEMO_ACCOUNT_ID = "a" * 32


def demo_iam_projects() -> list[dict[str, Any]]:
    """The demo account as IAM lists it: the account, its two GeminiDB projects, a disabled one, a global one."""
    return [
        {"id": DEMO_ACCOUNT_ID, "name": "demo-account", "is_domain": True},
        {"id": DEFAULT_PROJECT_ID, "name": DEFAULT_REGION},
        {"id": SECOND_PROJECT_ID, "name": SECOND_REGION},
        {"id": "6" * 32, "name": "ap-southeast-2", "enabled": False},
        {"id": "7" * 32, "name": "MOS"},
    ]


def second_project_fleet(seed: int = 8) -> dict[str, Any]:
    """The demo account's second project (``ap-southeast-3``): a few instances behind on their patch."""
    rng = random.Random(seed)
    instances = [
        {
            "id": instance_id(rng),
            "name": f"staging-{engine}-{n:02d}",
            "datastore": {"type": engine, "patch_available": True},
        }
        for n, engine in enumerate(("cassandra", "cassandra", "influxdb", "redis"))
    ]
    return {"instances": instances, "credentials": {"project_id": SECOND_PROJECT_ID, "region": SECOND_REGION}}


def demo_fleet(seed: int = 7, now: datetime | None = None) -> dict[str, Any]:
    """A fleet document of 41 instances that exercises every skip reason, for the demo."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    window = current_window(now)
    instances: list[dict[str, Any]] = []

    def add(engine: str, name: str, **fields: Any) -> dict[str, Any]:
        patch = fields.pop("patch_available", True)
        behind, current = DEMO_CASSANDRA_VERSIONS if engine == "cassandra" else ("", "")
        version = fields.pop("whole_version", behind if patch else current)
        fields.setdefault("maintenance_window", window)
        datastore = {"type": engine, "patch_available": patch, "whole_version": version}
        item = {"id": instance_id(rng), "name": name, "datastore": datastore, **fields}
        instances.append(item)
        return item

    for number in range(12):
        add("cassandra", f"orders-cassandra-{number:02d}", tags={"tier": "canary"} if number < 2 else {})
    for number in range(6):
        add("influxdb", f"metrics-influx-{number:02d}")
    for number in range(3):
        add("redis", f"sessions-redis-{number:02d}")
    ledger = add("cassandra", "ledger-cassandra-patched", patch_available=False)
    add("redis", "cache-redis-patched", patch_available=False)
    add("influxdb", "telemetry-influx-abnormal", status="abnormal")
    audit = add("cassandra", "audit-cassandra-frozen", status="frozen")
    add("redis", "queue-redis-rebooting", actions=["REBOOT"])
    running = add("cassandra", "billing-cassandra-upgrading", actions=["UPGRADE_DATABASE"])
    scheduled = add("influxdb", "iot-influx-scheduled")
    add("mongodb", "profiles-mongo-00")
    add("mongodb", "profiles-mongo-01")
    add("dynamodb", "carts-dynamo-00")
    add("hbase", "events-hbase-00")
    add("cassandra", "reports-cassandra-disk-full", status="data_disk_full")
    rejected = add("redis", "flaky-redis-00")
    add("influxdb", "logs-influx-node-down", abnormal_nodes=1)
    add("redis", "search-redis-night-window", maintenance_window=current_window(now, 10), backup_age_hours=40)
    instances.extend(dr_pair(rng, "payments-cassandra-dr", window))
    instances.extend(dr_pair(rng, "sessions-redis-dr", window, engine="redis"))
    add("cassandra", "archive-cassandra-failing")
    start = now - timedelta(minutes=5)
    return {
        "instances": instances,
        "jobs": [
            {"instance_id": running["id"], "status": "Running", "start_time": start.strftime("%Y-%m-%dT%H:%M:%S+0000")},
            # past upgrades of this fleet, with the durations they took: the run learns its estimates from them
            *(
                {
                    "instance_id": item["id"],
                    "status": "Completed",
                    "minutes": minutes,
                    "start_time": (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                }
                for item, minutes, days in ((ledger, 22, 2), (ledger, 31, 4), (audit, 27, 3))
            ),
        ],
        "scheduled_tasks": [{"instance_id": scheduled["id"], "job_status": "Pending"}],
        "reject_upgrades": {rejected["id"]: "DBS.200019"},
        "failing_upgrades": {instances[-1]["id"]: "Node restart timed out during the patch (simulated)."},
        "iam_projects": demo_iam_projects(),
    }
