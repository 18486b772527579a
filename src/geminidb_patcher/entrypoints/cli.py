"""``geminidb-patcher plan|apply|compliance|status``: the function's engine at a terminal, with Huawei's variables."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TextIO
from urllib.parse import urlsplit

import requests
from pydantic import TypeAdapter, ValidationError

from geminidb_patcher import __version__
from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.contract.request import MAX_JOB_HISTORY, RunRequest
from geminidb_patcher.contract.signatures import is_webhook_secret, sign_headers
from geminidb_patcher.contract.tally import FLEET, compliance_totals, current_share
from geminidb_patcher.errors import (
    EXIT_ABORTED,
    EXIT_BUSY,
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PLAN_CHANGED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    ConfigError,
    NoTargetError,
    PatcherError,
    PlanChangedError,
    answer_for,
)
from geminidb_patcher.notify.digest import forecast_line
from geminidb_patcher.reconcile.act import BatchRecord
from geminidb_patcher.reconcile.observe import observed_jobs
from geminidb_patcher.redaction import RedactingStream
from geminidb_patcher.run.patcher import RunContext
from geminidb_patcher.telemetry import redactor
from geminidb_patcher.transport import BodyTooLargeError, CallExpiredError, bounded_call, read_capped, watched_session
from geminidb_patcher.urls import check_url

__all__ = ["EXIT_ABORTED", "EXIT_CONFIG", "EXIT_OK", "EXIT_PLAN_CHANGED", "EXIT_PROBLEMS", "EXIT_USAGE", "main"]
CLI_PREFIXES = {EXIT_USAGE: "invalid request", EXIT_CONFIG: "configuration", EXIT_PROBLEMS: "Huawei Cloud API"}
NO_TARGET = "no target: give --target REGION/PROJECT_ID, or set HUAWEICLOUD_REGION and HUAWEICLOUD_SDK_PROJECT_ID"
_DURATION = TypeAdapter(timedelta)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geminidb-patcher", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--verbose", action="store_true", help="the function's JSON logs and metrics on stderr (default: none)"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=(
            "the time each read of the fleet, and each apply, may take, every call and retry included "
            f"(default {DEFAULT_TIMEOUT_SECONDS}; the confirmation prompt does not count)"
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("plan", "show what would be submitted"), ("apply", "submit, after confirmation")):
        command = commands.add_parser(name, help=text, parents=[common])
        command.add_argument("--request", metavar="FILE", help="a RunRequest JSON file ('-' for stdin)")
        command.add_argument("--target", action="append", metavar="REGION/PROJECT_ID", help="repeatable")
        command.add_argument("--instance-id", action="append", dest="instance_ids", help="repeatable")
        command.add_argument("--engine", action="append", dest="engines", help="repeatable")
        command.add_argument("--name", help="exact name, or *text for names containing text")
        command.add_argument("--tag", action="append", metavar="KEY=VALUE", help="repeatable")
        command.add_argument(
            "--window",
            help="instance (each instance's maintenance window), anytime (the default at a terminal: you asked), "
            "or a JSON window object",
        )
        command.add_argument("--max-in-flight", help="a number or N%%")
        command.add_argument("--max-errors", help="a number or N%%")
        command.add_argument("--output", choices=("table", "json"), default="table")
        if name == "apply":
            command.add_argument("--yes", action="store_true", help="do not ask for confirmation")
            command.add_argument("--expected-plan-id", help="refuse unless the plan is still this one")
    standing = commands.add_parser(
        "compliance",
        help="how far behind each engine is, its versions, and when the rest is expected to go",
        parents=[common],
    )
    standing.add_argument("--target", action="append", metavar="REGION/PROJECT_ID", help="repeatable")
    standing.add_argument(
        "--window",
        default="instance",
        help="the window the forecast assumes: instance (the default: what a schedule uses), anytime, or a JSON "
        "window object",
    )
    standing.add_argument(
        "--fail-below", type=_percent, metavar="PERCENT", help="exit 1 when the fleet is less than PERCENT current"
    )
    standing.add_argument("--output", choices=("table", "json"), default="table")
    status = commands.add_parser("status", help="running, finished and failed upgrade jobs", parents=[common])
    status.add_argument("--target", action="append", metavar="REGION/PROJECT_ID")
    status.add_argument("--lookback", default="PT24H", help="ISO 8601 duration or seconds, ≤ 30 days (default PT24H)")
    status.add_argument("--output", choices=("table", "json"), default="table")
    send = commands.add_parser(
        "send",
        help="sign a RunRequest with WEBHOOK_SECRET (Standard Webhooks) and POST it to the deployed webhook",
        parents=[common],
    )
    send.add_argument("url", help="the stack's WebhookUrl output (…/runs)")
    send.add_argument("--request", metavar="FILE", help="the RunRequest JSON ('-' for stdin; default a plan)")
    return parser


DEFAULT_TIMEOUT_SECONDS = 300


def _finite_between(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` to ``high``, refused with ``what`` it should be."""

    def parse(value: str) -> float:
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        if not math.isfinite(parsed) or not low <= parsed <= high:
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
        return parsed

    return parse


_seconds = _finite_between(1, 86_400, "a number of seconds from 1 to 86400")
"""``--timeout``: seconds, from 1 to a day."""
_percent = _finite_between(0, 100, "a number from 0 to 100")
"""``--fail-below``: a percentage."""


def _targets(values: list[str]) -> list[dict[str, str]]:
    """``REGION/PROJECT_ID`` arguments as target objects (the model validates them)."""
    return [dict(zip(("region", "project_id"), value.split("/", 1), strict=False)) for value in values]


def _lookback(value: str) -> timedelta:
    """``--lookback``: an ISO 8601 duration or a number of seconds, from 0 to 30 days."""
    try:
        parsed = _DURATION.validate_python(int(value) if value.isdigit() else value)
    except ValidationError:
        raise ValueError(f"--lookback {value!r} is not an ISO 8601 duration (PT24H) or a number of seconds") from None
    if not timedelta(0) <= parsed <= MAX_JOB_HISTORY:
        raise ValueError(f"--lookback {value!r} must be between 0 and 30 days")
    return parsed


def _json(text: str, what: str) -> Any:
    """``text`` as JSON; ``ValueError`` naming ``what`` when it is not JSON or is nested too deeply to read."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply to be a RunRequest") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None


def _window(value: str) -> Any:
    """``--window``: ``instance``, ``anytime``, or a JSON window object (the model validates it)."""
    return _json(value, "--window") if value.startswith("{") else value


def _limit(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _request_file(path: str) -> Any:
    """The JSON of a ``--request`` file (``-``: standard input)."""
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: PTH123, SIM115
    return _json(text, "the request file")


def _request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request file (if any), overridden by the flags that were given."""
    fields: dict[str, Any] = {}
    if args.request:
        loaded = _request_file(args.request)
        if not isinstance(loaded, dict):
            raise ValueError("the request file must hold a JSON object")
        fields.update(loaded)
    if args.target:
        fields["targets"] = _targets(args.target)
    if args.instance_ids:
        fields["instance_ids"] = args.instance_ids
    selector = dict(fields.get("selector") or {})
    if args.engines:
        selector["engines"] = args.engines
    if args.name:
        selector["name"] = args.name
    if args.tag:
        tags: dict[str, list[str]] = {}
        for item in args.tag:
            key, _, value = item.partition("=")
            tags.setdefault(key, []).extend([value] if value else [])
        selector["tags"] = tags
    if selector:
        fields["selector"] = selector
    if args.window:
        fields["window"] = _window(args.window)
    for flag in ("max_in_flight", "max_errors"):
        if getattr(args, flag):
            fields[flag] = _limit(getattr(args, flag))
    return fields


def _row(outcome: Mapping[str, Any]) -> tuple[str, ...]:
    what = outcome.get("job_id") or (
        f"{outcome['error_code']}: {outcome.get('error_message') or ''}"
        if outcome.get("error_code")
        else f"{outcome.get('reason') or ''}: {outcome.get('detail') or ''}"
        if outcome.get("reason")
        else outcome.get("detail") or ""
    )
    return (
        outcome.get("instance_name") or outcome["instance_id"],
        outcome.get("engine") or "-",
        outcome.get("version") or "-",
        outcome.get("maintenance_window") or "-",
        outcome["outcome"],
        what,
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; the last column is never padded."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [f"{cell!s:<{widths[i]}}" for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines)


def window_rule(request: RunRequest) -> str:
    """Which window rule a terminal run applies, in words (shown under the table)."""
    spec = request.window or "anytime"
    if spec == "anytime":
        return "window: anytime (maintenance windows not applied; --window instance respects them)"
    if spec == "instance":
        return "window: each instance's maintenance window (UTC)"
    days = f" on {', '.join(spec.days)}" if spec.days else ""
    return f"window: {spec.start:%H:%M}-{spec.end:%H:%M} {spec.timezone}{days}"


def _print_report(report: RunReport, output: str, out: TextIO, rule: str = "") -> None:
    data = report.model_dump(mode="json")
    if output == "json":
        out.write(json.dumps(data, indent=2) + "\n")
        return
    rows = [_row(o) for o in data["outcomes"]]
    header = ("INSTANCE", "ENGINE", "VERSION", "MAINT-WINDOW", "OUTCOME", "JOB / ERROR / REASON")
    out.write(table(header, rows) + "\n")
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts.items() if n) or "nothing in scope"
    chosen = any(report.counts.get(kind) for kind in ("planned", "submitted", "rejected", "failed"))
    plan = f"plan {report.plan_id}" if report.plan_id and chosen else "plan: none (nothing would be submitted)"
    out.write(f"\n{counts}; {plan}; run {report.run_id}\n")
    if rule:
        out.write(rule + "\n")
    for error in report.errors:
        out.write(f"target {error.region}/{error.project_id} not read: {error.error_message}\n")
    for note in report.notes:
        out.write(f"note: {note}\n")


def compliance_table(report: RunReport) -> str:
    """One row per target and engine, with its version spread (most instances first)."""
    header = (
        "TARGET", "ENGINE", "INSTANCES", "NO-PATCH-OFFERED", "BEHIND", "NEEDS-OPERATOR", "CURRENT-%", "VERSIONS"
    )  # fmt: skip
    rows = [
        (
            f"{entry.region}/{entry.project_id}",
            entry.engine,
            str(entry.instances),
            str(entry.current) + (f" (+{entry.older_version} older)" if entry.older_version else ""),
            str(entry.behind),
            str(entry.behind_not_patchable),
            f"{100 * entry.ratio:.1f}",
            ", ".join(
                f"{version} ({count})"
                for version, count in sorted(entry.versions.items(), key=lambda item: (-item[1], item[0]))
            ),
        )
        for entry in report.compliance
    ]
    return table(header, rows)


def _cli_message(error: PatcherError) -> str:
    """What a person at the terminal reads for ``error``."""
    if isinstance(error, NoTargetError):
        return NO_TARGET
    if isinstance(error, PlanChangedError):
        return f"{error}: nothing was submitted"
    return str(error)


def _exit_for(report: RunReport) -> int:
    bad = report.counts.get("rejected") or report.counts.get("failed") or report.errors
    if bad:
        return EXIT_PROBLEMS
    return EXIT_BUSY if any(outcome.reason == "another_run_applying" for outcome in report.outcomes) else EXIT_OK


class Cli:
    """One command against a wiring; input, output and the confirmation prompt are injectable for tests."""

    def __init__(
        self,
        wiring: Wiring,
        *,
        out: TextIO,
        err: TextIO,
        confirm: Callable[[str], bool],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._wiring = wiring
        self._out = out
        self._err = err
        self._confirm = confirm
        self._timeout = timeout

    def run_request(self, fields: dict[str, Any], output: str, *, apply: bool, yes: bool) -> int:
        """``plan``, or ``apply``: plan, show, confirm, then apply pinned to the plan that was shown."""
        expected = fields.pop("expected_plan_id", None)
        plan_request = RunRequest.model_validate({**fields, "mode": "plan", "notify": False})
        rule = window_rule(plan_request)
        planned = self._run(plan_request)
        if not apply:
            _print_report(planned, output, self._out, rule)
            return _exit_for(planned)
        if expected and expected != planned.plan_id:
            self._err.write(f"the plan is now {planned.plan_id}, not {expected}: nothing was submitted\n")
            return EXIT_PLAN_CHANGED
        chosen = planned.counts.get("planned", 0)
        if output == "table" or chosen == 0:
            _print_report(planned, output, self._out, rule)
        if chosen == 0:
            if plan_request.instance_ids:  # a person named instances and none can go: say why, and fail
                held = Counter(outcome.reason or outcome.outcome for outcome in planned.outcomes)
                why = ", ".join(f"{count} {reason}" for reason, count in held.most_common())
                self._err.write(f"nothing to submit: none of the named instances can be patched now ({why})\n")
                return EXIT_PROBLEMS
            self._err.write("nothing to submit\n")
            return _exit_for(planned)
        try:
            confirmed = yes or self._confirm(f"Submit {chosen} instance(s) (plan {planned.plan_id})? [y/N] ")
        except EOFError:
            self._err.write("aborted: no answer (standard input is closed); review the plan, then use --yes\n")
            return EXIT_ABORTED
        except KeyboardInterrupt:
            self._err.write("\naborted: nothing was submitted\n")
            return EXIT_ABORTED
        if not confirmed:
            self._err.write("aborted: nothing was submitted\n")
            return EXIT_ABORTED
        apply_request = RunRequest.model_validate({**fields, "mode": "apply", "expected_plan_id": planned.plan_id})
        applied = self._run(apply_request, progress=True)
        if output == "table":
            self._out.write("\n")
        _print_report(applied, output, self._out, rule)
        return _exit_for(applied)

    def _run(self, request: RunRequest, *, progress: bool = False) -> RunReport:
        def report_batch(record: BatchRecord) -> None:
            line = f"batch {record.engine}, {len(record.instance_ids)} instance(s): "
            if record.error is None:
                line += f"{sum(1 for r in record.upgrade_results if r.get('job_id'))} submitted"
            else:
                line += (
                    f"call failed ({record.error.error_code or type(record.error).__name__}); re-reading the jobs "
                    f"found {record.confirmed_by_reobservation} submitted"
                )
            self._err.write(line + "\n")

        patcher = self._wiring.patcher(on_batch=report_batch if progress else None)
        return patcher.run(request, RunContext.for_terminal(f"cli-{uuid.uuid4()}", self._timeout))

    def compliance(self, targets: list[str] | None, window: str, output: str, fail_below: float | None) -> int:
        """Per target and engine: current, behind, needing an operator, the versions; then what happens next.

        A plan run that reads the fleet and submits nothing, notifies no channel.
        """
        fields: dict[str, Any] = {"mode": "plan", "notify": False}
        fields["window"] = _window(window)
        if targets:
            fields["targets"] = _targets(targets)
        report = self._run(RunRequest.model_validate(fields))
        fleet = compliance_totals(report.compliance, with_fleet=True).get(FLEET, Counter())
        # a target not read is not current: no share is given for a fleet the run did not see whole
        percent = None if report.errors or not fleet["instances"] else 100 * current_share(fleet)
        if output == "json":
            answer = {
                "run_id": report.run_id,
                "compliance": [entry.model_dump(mode="json") for entry in report.compliance],
                "fleet": {
                    **{name: fleet[name] for name in ("instances", "current", "behind")},
                    "behind_not_patchable": fleet["stuck"],
                    "no_patch_offered": fleet["no_patch"],
                    "older_version": fleet["older"],
                    "percent_current": None if percent is None else round(percent, 2),
                    "complete": not report.errors,
                },
                "next_steps": [step.model_dump(mode="json") for step in report.next_steps],
                "errors": [error.model_dump(mode="json") for error in report.errors],
            }
            self._out.write(json.dumps(answer, indent=2) + "\n")
        else:
            self._out.write(compliance_table(report) + "\n")
            if fleet["instances"]:
                stuck = f"; {fleet['stuck']} behind need an operator" if fleet["stuck"] else ""
                share = f"{percent:.1f}%" if percent is not None else "share unknown: a target was not read"
                self._out.write(
                    f"\nfleet: {fleet['current']}/{fleet['instances']} current: no patch offered ({share}){stuck}\n"
                )
            if report.next_steps:
                self._out.write(f"next: {forecast_line(report.next_steps)}\n")
            for error in report.errors:
                self._out.write(f"target {error.region}/{error.project_id} not read: {error.error_message}\n")
        below = fail_below is not None and percent is not None and percent < fail_below
        return EXIT_PROBLEMS if report.errors or below else EXIT_OK

    def status(self, targets: list[str] | None, lookback: timedelta, output: str) -> int:
        """Running upgrade jobs, and those started within ``lookback``."""
        chosen = _targets(targets or []) or (
            [self._wiring.settings.default_target.model_dump()] if self._wiring.settings.default_target else []
        )
        if not chosen:
            raise NoTargetError(NO_TARGET)
        request = RunRequest.model_validate({"targets": chosen})
        rows: list[dict[str, Any]] = []
        assert request.targets is not None
        now = self._wiring.clock()
        for target in request.targets:
            for job in observed_jobs(self._wiring.client(target), now, lookback)[0]:
                rows.append(
                    {
                        "region": target.region,
                        "project_id": target.project_id,
                        "job_id": job.id,
                        "instance_id": job.instance_id,
                        "instance_name": job.instance_name,
                        "status": job.status,
                        "progress": job.progress,
                        "started_at": job.started_at.isoformat() if job.started_at else None,
                        "ended_at": job.ended_at.isoformat() if job.ended_at else None,
                        "fail_reason": job.fail_reason,
                    }
                )
        rows.sort(key=lambda r: (r["status"] != "Running", r["status"] != "Failed", r["instance_name"]))
        if output == "json":
            self._out.write(json.dumps({"jobs": rows}, indent=2) + "\n")
        else:
            header = ("INSTANCE", "STATUS", "PROGRESS", "STARTED", "ENDED", "JOB / FAIL REASON")
            lines = [
                (
                    r["instance_name"] or r["instance_id"],
                    r["status"],
                    r["progress"] or "-",
                    (r["started_at"] or "-")[:16],
                    (r["ended_at"] or "-")[:16],
                    r["fail_reason"] or r["job_id"],
                )
                for r in rows
            ]
            self._out.write(table(header, lines) + "\n")
            counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("Running", "Completed", "Failed")}
            self._out.write(
                f"\nrunning {counts['Running']}, completed {counts['Completed']}, failed {counts['Failed']}\n"
            )
        return EXIT_PROBLEMS if any(r["status"] == "Failed" for r in rows) else EXIT_OK


def _ask(prompt: str) -> bool:
    """Ask on the terminal; ``EOFError`` when standard input is closed."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip().lower() in ("y", "yes")


MAX_WEBHOOK_ANSWER_BYTES = 8 * 1024 * 1024
"""A webhook answer is at most Lambda's 6 MB response; more is not read."""


def send_signed(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """``send``: the request signed now with the first of ``WEBHOOK_SECRET``, POSTed, and the answer printed."""
    secrets = (environ.get("WEBHOOK_SECRET") or "").split()
    if not secrets or not is_webhook_secret(secrets[0]):
        raise ConfigError("WEBHOOK_SECRET must hold the webhook's secret ('whsec_' followed by base64)")
    url = check_url("the webhook URL", args.url)
    request = _request_file(args.request) if args.request else {"mode": "plan"}
    body = json.dumps(request, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        **sign_headers(secrets[0], f"msg_{uuid.uuid4().hex}", int(time.time()), body),
    }
    host = urlsplit(url).hostname
    try:  # bounded like every outbound call: one total time, a capped answer
        with bounded_call(args.timeout), watched_session() as session:
            response = session.post(
                url, data=body, headers=headers, timeout=(3.05, args.timeout), allow_redirects=False, stream=True
            )
            with response:
                answer = read_capped(response, MAX_WEBHOOK_ANSWER_BYTES)
    except (requests.RequestException, CallExpiredError, BodyTooLargeError) as exc:
        err.write(f"no usable answer from {host}: {type(exc).__name__}\n")
        return EXIT_PROBLEMS
    try:
        shown = json.dumps(json.loads(answer), indent=2)
    except ValueError:
        shown = answer[:2000].decode("utf-8", "replace")
    out.write(shown + "\n")
    if response.status_code >= 300:
        err.write(f"the webhook answered HTTP {response.status_code}\n")
        return EXIT_PROBLEMS
    return EXIT_OK


def _sealed(stream: TextIO) -> TextIO:
    """``stream`` with every known secret and secret-shaped text masked: what Huawei or IAM answered (an error, a
    fail reason) may echo a credential, and the terminal shows it."""
    sealed: TextIO = RedactingStream(redactor, lambda: stream)  # type: ignore[assignment]
    return sealed


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    wiring: Wiring | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    confirm: Callable[[str], bool] = _ask,
) -> int:
    """Run one command; the return value is the process exit code (see the README).

    Standard output carries only what was asked for (the table or the JSON); the function's own JSON logs and
    EMF records go to standard error with ``--verbose``, and nowhere otherwise.
    """
    out, err = _sealed(out or sys.stdout), _sealed(err or sys.stderr)
    try:
        with contextlib.redirect_stderr(err):  # usage errors and --help go where the caller reads them
            args = _parser().parse_args(argv)
    except SystemExit as stopped:  # argparse's usage error (2) or --help (0)
        return stopped.code if isinstance(stopped.code, int) else EXIT_USAGE
    logs: TextIO = err if args.verbose else io.StringIO()
    with contextlib.redirect_stdout(logs), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Powertools' "no metrics to publish": not the operator's concern
        return _main(args, environ, wiring, out, err, confirm)


def _main(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None,
    wiring: Wiring | None,
    out: TextIO,
    err: TextIO,
    confirm: Callable[[str], bool],
) -> int:
    try:
        if args.command == "send":
            return send_signed(args, environ if environ is not None else os.environ, out, err)
        if getattr(args, "request", None) == "-" and args.command == "apply" and not args.yes:
            err.write(
                "invalid request: --request - reads the request from standard input, so the confirmation cannot "
                "be asked there; review it with 'plan', then add --yes\n"
            )
            return EXIT_USAGE
        wired = wiring or Wiring.from_environ(environ if environ is not None else os.environ)
        wired.deadline.start(args.timeout)  # every call of the command, status included, fits the budget
        cli = Cli(wired, out=out, err=err, confirm=confirm, timeout=args.timeout)
        if args.command == "status":
            return cli.status(args.target, _lookback(args.lookback), args.output)
        if args.command == "compliance":
            return cli.compliance(args.target, args.window, args.output, args.fail_below)
        fields = _request_fields(args)
        if args.command == "apply" and args.expected_plan_id:
            fields["expected_plan_id"] = args.expected_plan_id
        return cli.run_request(fields, args.output, apply=args.command == "apply", yes=getattr(args, "yes", False))
    except KeyboardInterrupt:
        err.write("\ninterrupted: batches already sent stay submitted; 'status' shows their jobs\n")
        return EXIT_ABORTED
    except ValidationError as exc:
        for problem in describe_problems(exc.errors(include_input=False, include_url=False), whole="request"):
            err.write(f"invalid request: {problem['field']}: {problem['message']}\n")
        return EXIT_USAGE
    except PatcherError as exc:
        answer = answer_for(exc)
        err.write(f"{CLI_PREFIXES.get(answer.exit_code, 'error')}: {_cli_message(exc)}\n")
        return answer.exit_code
    except (ValueError, OSError) as exc:  # the request file: unreadable, or not JSON
        err.write(f"invalid request: {exc}\n")
        return EXIT_USAGE
    except RecursionError:
        err.write("invalid request: nested too deeply to be read\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
