"""The local runner: ``demo`` (the main job), ``invoke EVENT_FILE`` and ``serve``."""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import timedelta
from html import unescape as html_unescape
from pathlib import Path
from typing import Any

import requests

from geminidb_local.environment import (
    channel_environment,
    new_webhook_secret,
    simulator_environment,
    simulator_wiring,
)
from geminidb_local.gateway_server import LocalGateway
from geminidb_local.lambda_shim import LocalContext, is_http_event, make_handler, signed_run_event
from geminidb_local.simulator import Simulator, demo_fleet
from geminidb_local.simulator.fleet import (
    DEFAULT_PROJECT_ID,
    DEFAULT_REGION,
    SECOND_PROJECT_ID,
    SECOND_REGION,
    second_project_fleet,
)
from geminidb_patcher.contract.report import EngineCompliance, NextStep
from geminidb_patcher.contract.signatures import sign_headers
from geminidb_patcher.contract.tally import FLEET
from geminidb_patcher.errors import InvalidRunRequestError
from geminidb_patcher.notify.digest import compliance_line, forecast_line

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
OUT = Path("local-out")
UPGRADE_HOURS = 2


def _table(report: dict[str, Any]) -> str:
    rows = [("INSTANCE", "ENGINE", "OUTCOME", "JOB / ERROR / REASON")]
    for item in report["outcomes"]:
        what = item.get("job_id") or (
            f"{item['error_code']}: {item.get('error_message') or ''}"
            if item.get("error_code")
            else f"{item.get('reason') or ''} - {item.get('detail') or ''}"
        )
        rows.append(
            (item.get("instance_name") or item["instance_id"], item.get("engine") or "-", item["outcome"], what)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows]
    counts = ", ".join(f"{kind} {n}" for kind, n in report["counts"].items() if n)
    summary = [f"  → {counts}"]
    rollout = report.get("rollout")
    if rollout:
        summary.append(
            f"  → plan {report['plan_id']}; in flight before {rollout['in_flight_before']}, "
            f"max_in_flight {rollout['max_in_flight']}; errors {rollout['errors_before']}+"
            f"{rollout['errors_this_run']} of max_errors {rollout['max_errors']}"
        )
    jobs = Counter(job["status"] for job in report.get("jobs", []))
    if jobs:
        summary.append(f"  → upgrade jobs seen: {dict(jobs)}")
    for block in report.get("durations", []):
        quantile = f"p90 {block['p90_minutes']} min" if block["p90_minutes"] is not None else "no completed one"
        summary.append(
            f"  → durations: {block['nodes']}-node {block['engine']}: {block['samples']} completed upgrade(s), "
            f"{quantile}, Huawei's guide {block['guide_minutes']} min → estimate {block['estimate_minutes']} min "
            f"({block['source']})"
        )
    if report.get("compliance"):
        entries = [EngineCompliance.model_validate(entry) for entry in report["compliance"]]
        summary.append(f"  → compliance: {compliance_line(entries)}")
    if report.get("next_steps"):
        summary.append(f"  → next: {forecast_line([NextStep.model_validate(step) for step in report['next_steps']])}")
    return "\n".join([*lines, *summary])


def _fleet_compliance(log_file: Path) -> list[str]:
    """``ComplianceRatio`` and ``InstancesBehind`` of the whole fleet, per run, from the EMF records in the log."""

    def value(record: dict[str, Any], name: str) -> float:
        figure = record[name]
        return float(figure[0] if isinstance(figure, list) else figure)

    ratios, behind = [], []
    for line in log_file.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("engine") == FLEET and "ComplianceRatio" in record:
            ratios.append(value(record, "ComplianceRatio"))
        elif record.get("engine") == FLEET and "InstancesBehind" in record:
            behind.append(value(record, "InstancesBehind"))
    return [f"{ratio:g}% current ({count:g} behind)" for ratio, count in zip(ratios, behind, strict=True)]


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Send the function's stdout (JSON logs and EMF metrics) to a file, as CloudWatch would collect it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        yield


def _check_accounted(report: dict[str, Any], expected_ids: set[str], label: str) -> list[str]:
    seen = Counter(item["instance_id"] for item in report["outcomes"])
    problems = [f"{label}: {i} has {n} outcomes" for i, n in seen.items() if n != 1]
    missing = expected_ids - set(seen)
    problems += [f"{label}: {i} has no outcome" for i in sorted(missing)]
    return problems


def demo() -> int:
    """Plan through the scheduler event, apply, then a signed webhook over real HTTP, then approve a plan from its
    chat message's link as a person would; print what happened."""
    fleet = demo_fleet()
    log_file = OUT / "demo-logs.jsonl"
    log_file.unlink(missing_ok=True)
    problems: list[str] = []
    with Simulator(fleet) as simulator:
        webhook_secret = new_webhook_secret()
        environ = simulator_environment(simulator, webhook_secret=webhook_secret)
        environ.pop("NOTIFY_WEBHOOK_URL")
        environ |= channel_environment(simulator)
        environ["APPROVAL_SECRET"] = new_webhook_secret()
        gateway = LocalGateway()
        environ["WEBHOOK_API_URL"] = gateway.base_url
        handler = gateway.handler = make_handler(environ, simulator_wiring(simulator, environ))
        all_ids = {item["id"] for item in simulator.fleet.instances}
        print(
            f"Simulator: {simulator.base_url}, {len(all_ids)} instances "
            f"(Cassandra, Influx, Redis and unsupported engines).\n"
        )

        steps = [("1. Scheduled plan", "schedule-plan.json"), ("2. Scheduled apply", "schedule-apply.json")]
        for title, name in steps:
            event = json.loads((EVENTS / name).read_text())
            with _logs_to(log_file):
                report = handler(event, LocalContext())
            print(f"{title} (events/{name}, trigger={report['trigger']}, mode={report['mode']}):")
            print(_table(report) + "\n")
            problems += _check_accounted(report, all_ids, title)
            if name == "schedule-plan.json":
                lines, found = window_from_history(handler, simulator)
                print("\n".join(lines))
                problems += found
        submitted = {o["instance_id"]: o["job_id"] for o in report["outcomes"] if o["outcome"] == "submitted"}
        jobs = {job["id"]: job for job in simulator.state.backend.snapshot()["jobs"]}
        problems += [f"job {job} for {i} is not in the simulator" for i, job in submitted.items() if job not in jobs]

        simulator.state.clock.advance(UPGRADE_HOURS * 3600)
        with gateway:
            body = json.dumps({"mode": "plan", "lookback": f"PT{UPGRADE_HOURS + 1}H"}).encode()
            headers = {
                "Content-Type": "application/json",
                **sign_headers(webhook_secret, "msg_demo_1", int(time.time()), body),
            }
            with _logs_to(log_file):
                response = requests.post(f"{gateway.base_url}/runs", data=body, headers=headers, timeout=30)
            print(
                f"3. Signed webhook, {UPGRADE_HOURS} simulated hours later "
                f"(POST {gateway.base_url}/runs → HTTP {response.status_code}):"
            )
            if response.status_code != 200:
                print(f"  {response.text}")
                return 1
            report = response.json()
            print(_table(report) + "\n")
            problems += _check_accounted(report, all_ids, "3. webhook plan")
            with _logs_to(log_file):
                lines, found = approve_from_chat(gateway.base_url, webhook_secret, simulator)
            print("\n".join(lines))
            problems += found
        with Simulator(second_project_fleet()) as second, _logs_to(log_file):
            lines, found = every_project(simulator, second, environ)
        print("\n".join(lines))
        problems += found

        state = simulator.state.backend.snapshot()
        job_states = Counter(job["status"] for job in state["jobs"])
        inbox = simulator.inbox
        OUT.mkdir(exist_ok=True)
        (OUT / "notifications.json").write_text(json.dumps(inbox, indent=2, default=str))
    print(
        f"Jobs in the simulator: {dict(job_states)}; "
        f"submitted in step 2: {len(submitted)}, all found as UpgradeDbVersion jobs: {not problems}."
    )
    print(f"JSON logs and EMF metrics: {log_file} ({sum(1 for _ in log_file.open())} lines).")
    print(f"Fleet ComplianceRatio per run, from those EMF records: {' → '.join(_fleet_compliance(log_file))}.")
    accepted = Counter(m["kind"] for m in inbox if 200 <= m["status"] < 300)
    refused = [m for m in inbox if not 200 <= m["status"] < 300]
    print(
        f"Notifications: {len(inbox)} messages, accepted by the vendor-faithful receivers: {dict(accepted)}; "
        f"refused: {len(refused)}; saved to {OUT / 'notifications.json'}."
    )
    problems += [f"notification to {m['channel']} refused: {m.get('answer')}" for m in refused]
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


def window_from_history(handler: Any, simulator: Simulator) -> tuple[list[str], list[str]]:
    """Step 1b: the fleet's past upgrades say 3-node Cassandra takes longer than Huawei's figure; a window closing in
    25 minutes then holds a Cassandra instance and fits an Influx one (a silent plan: no channel, no log)."""
    now = simulator.state.clock.now()
    start, end = now - timedelta(hours=2), now + timedelta(minutes=25)
    window = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "timezone": "UTC"}
    request = {"mode": "plan", "window": window, "max_in_flight": "100%", "notify": False}
    with contextlib.redirect_stdout(io.StringIO()):
        report = handler(request, LocalContext())
    by_name = {o["instance_name"]: o for o in report["outcomes"]}
    held, fits = by_name.get("orders-cassandra-00", {}), by_name.get("metrics-influx-00", {})
    lines = [
        (
            "1b. Durations learned from the fleet's past upgrades, with a window that closes in 25 minutes "
            f"({window['start']}-{window['end']} UTC):"
        ),
        f"   orders-cassandra-00: {held.get('outcome')} ({held.get('reason')}) - {held.get('detail')}",
        (
            f"   metrics-influx-00: {fits.get('outcome')}, estimate {fits.get('estimate_minutes')} min "
            "(Huawei's guide: no Influx history yet)\n"
        ),
    ]
    fine = (held.get("reason"), fits.get("outcome")) == ("window_too_short", "planned")
    return lines, [] if fine else [f"1b. expected a held Cassandra and a planned Influx instance: {held}, {fits}"]


def every_project(first: Simulator, second: Simulator, environ: dict[str, str]) -> tuple[list[str], list[str]]:
    """Step 5: ``targets: "all"``: IAM lists the account's projects; the two with GeminiDB are read (a plan)."""
    environ = {**environ, "GEMINIDB_ENDPOINTS": json.dumps({SECOND_REGION: second.base_url})}
    handler = make_handler(environ, simulator_wiring(first, environ))
    report = handler({"mode": "plan", "targets": "all", "window": "anytime", "notify": False}, LocalContext())
    counts = Counter((o["region"], o["project_id"]) for o in report["outcomes"])
    found = ", ".join(f"{t['region']}/{t['project_id'][:8]}… ({counts[(t['region'], t['project_id'])]} instances)"
                      for t in report["targets"])  # fmt: skip
    listed = len(first.fleet.iam_projects or [])
    lines = [f'5. Every project of the account (targets "all"): IAM lists {listed} projects; read: {found}.\n']
    wanted = {(DEFAULT_REGION, DEFAULT_PROJECT_ID), (SECOND_REGION, SECOND_PROJECT_ID)}
    seen = {(t["region"], t["project_id"]) for t in report["targets"]}
    return lines, [] if seen == wanted and not report["errors"] else [f"5. targets 'all' read {sorted(seen)}"]


def approve_from_chat(base_url: str, webhook_secret: str, simulator: Simulator) -> tuple[list[str], list[str]]:
    """Step 4: a plan for review (it accepts the one failed upgrade, ``max_errors`` 1, and wants a backup from the
    last 24 hours), its "Review and apply" link
    from the Slack message, opened and pressed as a person would, then pressed again. Lines to print, problems."""
    seen = len(simulator.inbox)
    body = json.dumps({"mode": "plan", "max_errors": 1, "backup": {"within": "PT24H"}}).encode()
    headers = {"Content-Type": "application/json", **sign_headers(webhook_secret, "msg_demo_2", int(time.time()), body)}
    plan = requests.post(f"{base_url}/runs", data=body, headers=headers, timeout=30).json()
    link = slack_approval_link(simulator.inbox[seen:])
    if link is None:
        return [], [f"4. the Slack message of plan {plan.get('plan_id')} has no approval link"]
    upgrades = _upgrade_calls(simulator)
    page = requests.get(link, timeout=30)
    sent_by_get = _upgrade_calls(simulator) - upgrades
    pressed = requests.post(link, data={}, headers={"Origin": base_url}, timeout=60)
    sent_by_apply = _upgrade_calls(simulator) - upgrades - sent_by_get
    again = requests.post(link, data={}, headers={"Origin": base_url}, timeout=60)
    sent_again = _upgrade_calls(simulator) - upgrades - sent_by_get - sent_by_apply
    reports = [m["body"] for m in simulator.inbox[seen:] if m["kind"] == "webhook" and isinstance(m.get("body"), dict)]
    applied = next((report for report in reports if report.get("trigger") == "approval"), None)
    planned = plan.get("counts", {}).get("planned")
    held_for_backup = sum(1 for o in plan.get("outcomes", []) if o.get("reason") == "no_recent_backup")
    lines = [
        (
            f"4. A plan for review (POST /runs, mode plan, max_errors 1, a backup from the last 24 h): {planned} "
            f"planned, {held_for_backup} held for want of a recent backup, plan "
            f'{plan.get("plan_id")}; its Slack message carries a "Review and apply" link ({len(link)} characters).'
        ),
        f'   GET the link → HTTP {page.status_code}, "{page_title(page.text)}"; batch upgrade calls: {sent_by_get}.',
        (
            f'   Press "Apply this plan" → HTTP {pressed.status_code}, "{page_title(pressed.text)}"; '
            f"batch upgrade calls: {sent_by_apply}."
        ),
    ]
    if applied is not None:
        acted = [o for o in applied["outcomes"] if o["outcome"] in ("submitted", "rejected", "failed")]
        lines += [
            f"     {o['instance_name']:<30} {o['outcome']:<9} {o.get('job_id') or o.get('error_code')}" for o in acted
        ]
        lines.append(f"   the apply's report source: {json.dumps(applied.get('source'))}")
    again_title = page_title(again.text)
    lines.append(f'   Press it again → HTTP {again.status_code}, "{again_title}"; batch upgrade calls: {sent_again}.\n')
    problems = []
    if (page.status_code, pressed.status_code, again.status_code) != (200, 200, 409):
        problems.append(
            f"4. the approval round trip answered {page.status_code}, {pressed.status_code}, {again.status_code}"
        )
    if sent_by_get or sent_again or not sent_by_apply:
        problems.append(f"4. upgrade calls: {sent_by_get} on GET, {sent_by_apply} on Apply, {sent_again} pressed again")
    return lines, problems


def _upgrade_calls(simulator: Simulator) -> int:
    return sum(1 for e in simulator.exchanges if e.method == "POST" and "db-upgrade" in e.path)


def slack_approval_link(inbox: list[dict[str, Any]]) -> str | None:
    """The newest "Review and apply" button URL a Slack message carried."""
    for message in reversed(inbox):
        if message["kind"] != "slack":
            continue
        for block in (message.get("body") or {}).get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("url"):
                    return str(element["url"])
    return None


def page_title(html: str) -> str:
    """An HTML page's ``<title>``."""
    start, end = html.find("<title>"), html.find("</title>")
    return html_unescape(html[start + 7 : end]) if 0 <= start < end else ""


@contextlib.contextmanager
def _environment(channels: bool = False) -> Iterator[Mapping[str, str]]:
    """The process environment, or an embedded simulator with the demo fleet when none is configured (with
    ``channels``, every chat channel pointed at its vendor-faithful receiver, as in the demo)."""
    if os.environ.get("GEMINIDB_ENDPOINT"):
        yield os.environ
        return
    with Simulator(demo_fleet()) as simulator:
        secret = os.environ.get("WEBHOOK_SECRET") or new_webhook_secret()
        print(f"No GEMINIDB_ENDPOINT set: using an embedded simulator at {simulator.base_url}.", file=sys.stderr)
        environ = simulator_environment(simulator, webhook_secret=secret)
        if channels:
            environ.pop("NOTIFY_WEBHOOK_URL")
            environ |= channel_environment(simulator)
        yield {**environ, **os.environ}


def _load_event(event_file: Path) -> dict[str, Any]:
    """The event file as a JSON object; ``UsageError`` says what is wrong with it."""
    try:
        event = json.loads(event_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {event_file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{event_file} is not JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"{event_file} is nested too deeply to be a Lambda event") from None
    if not isinstance(event, dict):
        raise UsageError(f"{event_file} must hold a JSON object (a Lambda event)")
    return event


def _resigned(event: dict[str, Any], secret: str) -> dict[str, Any]:
    """The same HTTP API request (method, path, content type, body), signed now with ``secret``."""
    http = event.get("requestContext", {}).get("http", {})
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode()
    return signed_run_event(
        secret,
        raw,
        method=str(http.get("method") or "POST"),
        path=str(event.get("rawPath") or "/runs"),
        content_type=headers.get("content-type", "application/json"),
    )


def invoke(event_file: Path, sign: bool) -> int:
    """Invoke the handler once with an event file; ``--sign`` re-signs an HTTP API event now."""
    event = _load_event(event_file)
    with _environment() as environ:
        if sign and is_http_event(event):
            event = _resigned(event, environ.get("WEBHOOK_SECRET", ""))
        with _logs_to(OUT / "invoke-logs.jsonl"):
            try:
                result = make_handler(environ)(event, LocalContext())
            except InvalidRunRequestError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
    print(json.dumps(result, indent=2))
    return 0


def serve(port: int) -> int:
    """Serve the handler over HTTP on 127.0.0.1 so ``curl`` (and a browser, for the approval pages) can reach it."""
    with _environment(channels=True) as given:
        environ = dict(given)
        environ.setdefault("APPROVAL_SECRET", new_webhook_secret())
        secret_file = OUT / "webhook-secret"
        OUT.mkdir(exist_ok=True)
        secret_file.write_text(environ.get("WEBHOOK_SECRET", ""))
        secret_file.chmod(0o600)
        try:
            gateway = LocalGateway(port=port)
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        environ.setdefault("WEBHOOK_API_URL", gateway.base_url)
        gateway.handler = make_handler(environ)
        print(
            f"listening on {gateway.base_url} (POST /runs, GET /openapi.json, the approval pages under /approvals/); "
            f"webhook secret in {secret_file}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt), _logs_to(OUT / "serve-logs.jsonl"):
            gateway.serve_until_interrupted()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m geminidb_local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the local demo against the embedded simulator")
    invoke_cmd = commands.add_parser("invoke", help="invoke the handler with an event file")
    invoke_cmd.add_argument("event_file", type=Path)
    invoke_cmd.add_argument("--sign", action="store_true", help="re-sign an HTTP API event with WEBHOOK_SECRET")
    serve_cmd = commands.add_parser("serve", help="serve the handler over HTTP on 127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        if args.command == "demo":
            return demo()
        if args.command == "invoke":
            return invoke(args.event_file, args.sign)
        return serve(args.port)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class UsageError(Exception):
    """A problem with the command line or its files; printed as one line, exit 2."""


if __name__ == "__main__":
    sys.exit(main())
