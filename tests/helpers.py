"""Builders every test tier shares: events, ListInstances items, snapshots and plans, clients on the simulator.

Test modules import from here (never from each other); fixtures stay in the conftest files.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from geminidb_local.environment import simulator_environment, simulator_wiring
from geminidb_local.lambda_shim import make_handler
from geminidb_local.simulator import Simulator
from geminidb_patcher.contract.reasons import reason_code
from geminidb_patcher.contract.request import RunRequest, Selector, Target, Wave
from geminidb_patcher.entrypoints.handler import Handler
from geminidb_patcher.huawei.auth import AkSkAuth, Authenticator
from geminidb_patcher.huawei.client import GeminiDBClient
from geminidb_patcher.huawei.http import JsonHttp, Timeouts
from geminidb_patcher.huawei.signer import AkSkSigner
from geminidb_patcher.reconcile.plan import Plan, Policy, plan
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView, JobView, with_dr_role
from geminidb_patcher.retry import RetryPolicy

# -- events and ListInstances items ----------------------------------------------------------------------------

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """One file of ``events/``."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def instance_id(rng: random.Random) -> str:
    """A random ID in GeminiDB's format: 32 hex digits, ``in``, a two-digit engine suffix."""
    return f"{rng.getrandbits(128):032x}in06"


def make_instance(rng: random.Random, engine: str = "cassandra", **fields: Any) -> dict[str, Any]:
    """A ListInstances item (the simulator fills the rest)."""
    patch = fields.pop("patch_available", True)
    return {
        "id": instance_id(rng),
        "name": fields.pop("name", f"{engine}-{rng.randrange(10**6):06d}"),
        "datastore": {"type": engine, "patch_available": patch},
        **fields,
    }


_VERSIONS = {"cassandra": ("3.11", "3.11.5.4"), "influxdb": ("1.8", ""), "redis": ("6.2", ""), "mongodb": ("4.0", "")}


def api_item(partial: dict[str, Any]) -> dict[str, Any]:
    """A ListInstances item with the fields planning reads defaulted (3 normal nodes, window 02:00-06:00 UTC).

    Written here, apart from the simulator's fleet files, so the planner's tests do not depend on the simulator.
    """
    item = {k: v for k, v in partial.items() if k not in ("node_count", "abnormal_nodes", "dr_role", "tags")}
    datastore = dict(item.get("datastore") or {})
    engine = str(datastore.setdefault("type", "cassandra")).lower()
    version, whole = _VERSIONS.get(engine, ("1.0", ""))
    datastore.setdefault("version", version)
    datastore.setdefault("whole_version", whole)
    datastore.setdefault("patch_available", True)
    item["datastore"] = datastore
    item.setdefault("status", "normal")
    item.setdefault("maintenance_window", "02:00-06:00")
    item.setdefault("actions", [])
    item.setdefault("mode", "Cluster")
    abnormal = int(partial.get("abnormal_nodes", 0))
    nodes = [
        {"id": f"node{n}", "name": f"node-{n}", "status": "abnormal" if n < abnormal else "normal"}
        for n in range(int(partial.get("node_count", 3)))
    ]
    item.setdefault("groups", [{"id": "group01", "status": "normal", "nodes": nodes}])
    return item


# -- snapshots and plans -----------------------------------------------------------------------------------------

TARGET = Target(region="ap-southeast-1", project_id="0123456789abcdef0123456789abcdef")
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def job(
    instance: dict[str, Any], status: str, started: datetime, ended: datetime | None = None, **extra: Any
) -> JobView:
    """An upgrade job of ``instance``."""
    return JobView(
        id=extra.get("id", f"job-{instance['id'][:6]}-{started:%H%M%S}"),
        instance_id=instance["id"],
        instance_name=instance.get("name", ""),
        status=status,
        started_at=started,
        ended_at=ended,
        progress=extra.get("progress", ""),
        fail_reason=extra.get("fail_reason", ""),
    )


def snapshot(
    items: list[dict[str, Any]],
    running: dict[str, str] | None = None,
    scheduled: dict[str, str] | None = None,
    *,
    jobs: tuple[JobView, ...] = (),
    target: Target = TARGET,
    tagged: dict[Any, frozenset[str]] | None = None,
) -> FleetSnapshot:
    views = tuple(InstanceView.from_api(api_item(item)) for item in items)
    views = tuple(  # DR roles come from ShowInstanceRole, as observe reads them
        with_dr_role(view, item["dr_role"]) if "dr_role" in item else view
        for view, item in zip(views, items, strict=True)
    )
    running_jobs = tuple(
        JobView(job_id, instance, "", "Running", NOW - timedelta(minutes=5), None, "40%", "")
        for instance, job_id in (running or {}).items()
    )
    return FleetSnapshot(target, views, jobs + running_jobs, scheduled or {}, tagged or {})


def skipped(result: Plan) -> list[Any]:
    """The holds that are ``skipped``."""
    return [hold for hold in result.holds if hold.outcome == "skipped"]


def plan_of(
    snapshots: FleetSnapshot | list[FleetSnapshot],
    request: RunRequest | None = None,
    *,
    now: datetime = NOW,
    trigger: str = "webhook",
) -> Plan:
    """Plan with the webhook's defaults (any time) unless told otherwise."""
    request = request or RunRequest(max_in_flight="100%")
    group = snapshots if isinstance(snapshots, list) else [snapshots]
    return plan(group, request, Policy.resolve(request, trigger), now)  # type: ignore[arg-type]


def waves_request(**extra: object) -> RunRequest:
    """A request in two waves, ``canary`` (names ending ``canary``) then ``rest``, an hour's bake between them."""
    return RunRequest(
        max_in_flight="100%",
        max_errors=5,
        bake=timedelta(hours=1),
        waves=[
            Wave(name="canary", selector=Selector(name="*canary")),
            Wave(name="rest", selector=Selector(engines=["cassandra", "redis"])),
        ],
        **extra,  # type: ignore[arg-type]
    )


def reasons(result: Plan) -> dict[str, str]:
    """name (or ID) → the reason code its outcome will carry (``status_frozen`` for the ``status`` row)."""
    return {
        hold.instance.name if hold.instance else hold.instance_id: reason_code(
            hold.reason, hold.instance.status if hold.instance else ""
        )
        for hold in result.holds
    }


def submitted(result: object) -> list[str]:
    return [i.name for b in result.batches for i in b.instances]  # type: ignore[attr-defined]


def dr_pair(
    rng: random.Random, *, standby_patch: bool = True, role: str = "slave", engine: str = "cassandra"
) -> list[dict[str, object]]:
    """A DR pair as ListInstances shows it (``dr_instance_id`` only), with ShowInstanceRole's answers."""
    standby = make_instance(rng, engine, name="standby")
    primary = make_instance(rng, engine, name="primary")
    standby.update(dr_instance_id=primary["id"], dr_role=role)
    primary.update(dr_instance_id=standby["id"], dr_role="master")
    standby["datastore"]["patch_available"] = standby_patch  # type: ignore[index]
    return [standby, primary]


def dual_active_pair(rng: random.Random) -> list[dict[str, object]]:
    """Two active-active instances, each naming the other in ``dual_active_info`` (no roles, no DR)."""
    first, second = sorted((make_instance(rng), make_instance(rng)), key=lambda item: str(item["id"]))
    first.update(name="side-a", dual_active_info={"status": "normal", "destination_instance_id": second["id"]})
    second.update(name="side-b", dual_active_info={"status": "normal", "destination_instance_id": first["id"]})
    return [first, second]


# -- clients on the simulator ------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


class Sleeps(list[float]):
    """A sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fleet_document(count: int = 5, seed: int = 0, **extra: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    engines = ["cassandra", "influxdb", "redis"]
    return {"instances": [make_instance(rng, engines[i % 3]) for i in range(count)], **extra}


def make_client(
    simulator: Simulator, sleeps: Sleeps, auth: Authenticator | None = None, timeouts: Timeouts | None = None
) -> GeminiDBClient:
    credentials = simulator.fleet.credentials
    http = JsonHttp(requests.Session(), timeouts or Timeouts(1.0, 2.0), utc_now)
    return GeminiDBClient(
        http=http,
        endpoint=simulator.base_url,
        project_id=credentials.project_id,
        auth=auth or AkSkAuth(AkSkSigner(credentials.ak, credentials.sk), credentials.project_id),
        retry=RetryPolicy(jitter=lambda ceiling: ceiling),
        sleep=sleeps,
    )


@contextlib.contextmanager
def secrets_extension(
    secret: Callable[[str], dict[str, str] | None],
) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A stand-in for the Parameters and Secrets extension: ``secret(path)`` is the JSON secret, ``None`` a 400."""
    calls: list[dict[str, str]] = []

    class Extension(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append({"path": self.path, "token": self.headers.get("X-Aws-Parameters-Secrets-Token", "")})
            document = secret(self.path)
            body = json.dumps({"Name": "patcher", "SecretString": json.dumps(document or {})}).encode()
            self.send_response(200 if document is not None else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Extension)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], calls
    finally:
        server.shutdown()
        server.server_close()


def environment_for(simulator: Simulator, secret: str, **extra: str) -> dict[str, str]:
    """The function's environment against ``simulator``, without the default webhook channel, plus ``extra``."""
    environ = simulator_environment(simulator, webhook_secret=secret)
    environ.pop("NOTIFY_WEBHOOK_URL")
    environ.update(extra)
    return environ


def handler_on(
    simulator: Simulator, secret: str, *, sleep: Callable[[float], None] | None = None, **extra: str
) -> Handler:
    """The real handler against ``simulator``; with ``sleep``, on the simulator's clock and with that sleep."""
    environ = environment_for(simulator, secret, **extra)
    if sleep is None:
        return make_handler(environ)
    return make_handler(environ, simulator_wiring(simulator, environ, sleep=sleep))


# -- the template and the EMF series the function emits --------------------------------------------------------


def dashboard_widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's widgets, its ``${…}`` substitutions filled with a number so the body parses as JSON."""
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets: list[dict[str, Any]] = json.loads(re.sub(r"\$\{[A-Za-z0-9.:]+\}", "90", body))["widgets"]
    return widgets


def emitted_series(records: list[dict[str, Any]]) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(namespace, metric, dimensions) of every EMF metric in ``records``."""
    found = set()
    for record in records:
        for definition in record["_aws"]["CloudWatchMetrics"]:
            for dimensions in definition["Dimensions"]:
                pairs = frozenset((name, str(record[name])) for name in dimensions)
                found |= {(definition["Namespace"], metric["Name"], pairs) for metric in definition["Metrics"]}
    return found


# -- the lease table on a DynamoDB emulator ---------------------------------------------------------------------


LEASE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIALEASETEST", "AWS_SECRET_ACCESS_KEY": "lease-test-secret-key"}


@contextlib.contextmanager
def dynamodb_emulator() -> Iterator[str]:
    """moto's DynamoDB API in server mode on a loopback port: its endpoint URL."""
    from moto.server import ThreadedMotoServer  # dev-only, and slow to import: only the lease tests pay for it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def lease_table(endpoint: str, name: str | None = None, *, create: bool = True) -> Any:
    """A lease table on the emulator (new unless ``create`` is false), created through the function's own client,
    as ``template.yaml`` has it."""
    from geminidb_patcher.aws.dynamodb import DynamoDB
    from geminidb_patcher.aws.sigv4 import AwsCredentials
    from geminidb_patcher.transport import Deadline

    table = DynamoDB(
        session=requests.Session(),
        endpoint=endpoint,
        region="eu-west-1",
        table=name or f"leases-{random.getrandbits(40):010x}",
        credentials=lambda: AwsCredentials.from_environ(LEASE_CREDENTIALS),
        deadline=Deadline(),
    )
    if not create:
        return table
    table.call(
        "CreateTable",
        {
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    table.call("UpdateTimeToLive", {"TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True}})
    return table
