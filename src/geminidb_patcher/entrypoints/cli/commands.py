"""The CLI's commands against a wiring: plan, apply (confirm, then apply pinned to the plan), status,
compliance, and send (a signed request to a deployed webhook)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import requests

from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.contract.signatures import is_webhook_secret, sign_headers
from geminidb_patcher.contract.tally import FLEET, compliance_totals, current_share
from geminidb_patcher.entrypoints.cli.parser import DEFAULT_TIMEOUT_SECONDS, NO_TARGET, _request_file, _targets, _window
from geminidb_patcher.entrypoints.cli.render import _print_report, compliance_table, table, window_rule
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
)
from geminidb_patcher.notify.digest import forecast_line
from geminidb_patcher.reconcile.act import BatchRecord
from geminidb_patcher.run.patcher import RunContext
from geminidb_patcher.transport import BodyTooLargeError, CallExpiredError, bounded_call, read_capped, watched_session
from geminidb_patcher.urls import check_url

CLI_PREFIXES = {EXIT_USAGE: "invalid request", EXIT_CONFIG: "configuration", EXIT_PROBLEMS: "Huawei Cloud API"}


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
    return EXIT_BUSY if report.held_by_another_run else EXIT_OK


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
        terminal: TextIO | None = None,
    ) -> None:
        self._wiring = wiring
        self._out = out
        self._terminal = terminal or out
        """Standard output without the redactor: only for ``plan --approval-link``, whose link is a token the
        redactor otherwise masks (the report's own texts were scrubbed when it was sealed)."""
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

    def approval_link(self, fields: dict[str, Any], output: str) -> int:
        """``plan --approval-link``: the plan, then the link that applies exactly it (in the JSON, or the last line)."""
        if self._wiring.settings.webhook_api_url is None:
            self._err.write("no approval link: set WEBHOOK_API_URL (the webhook API's base URL) and APPROVAL_SECRET\n")
            return EXIT_PROBLEMS
        plan_request = RunRequest.model_validate({**fields, "mode": "plan", "notify": False})
        planned = self._run(plan_request)
        _print_report(planned, output, self._terminal, window_rule(plan_request), with_link=True)
        offer = planned.approval
        if offer is None or offer.url is None or offer.expires_at is None:
            why = offer.unavailable if offer and offer.unavailable else "the plan submits nothing"
            self._err.write(f"no approval link: {why}\n")
            return EXIT_PROBLEMS if offer and offer.unavailable else _exit_for(planned)
        if output == "table":
            until = f"{offer.expires_at:%Y-%m-%d %H:%M} UTC"
            self._terminal.write(f"\nReview and apply (valid until {until}):\n{offer.url}\n")
        return _exit_for(planned)

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

    def compliance(
        self, targets: list[str] | Literal["all"] | None, window: str, output: str, fail_below: float | None
    ) -> int:
        """Per target and engine: current, behind, needing an operator, the versions; then what happens next.

        A plan run that reads the fleet and submits nothing, notifies no channel.
        """
        fields: dict[str, Any] = {"mode": "plan", "notify": False}
        fields["window"] = _window(window)
        if targets:
            fields["targets"] = "all" if targets == "all" else _targets(targets)
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

    def status(self, targets: list[str] | Literal["all"] | None, lookback: timedelta, output: str) -> int:
        """Running upgrade jobs, and those that ended within ``lookback``: the job records of a plan run."""
        chosen: list[dict[str, str]] | Literal["all"] = (
            "all"
            if targets == "all"
            else _targets(targets or [])
            or ([self._wiring.settings.default_target.model_dump()] if self._wiring.settings.default_target else [])
        )
        if not chosen:
            raise NoTargetError(NO_TARGET)
        request = {"mode": "plan", "notify": False, "targets": chosen, "lookback": lookback, "window": "anytime"}
        report = self._run(RunRequest.model_validate(request))
        rows: list[dict[str, Any]] = [job.model_dump(mode="json") for job in report.jobs]
        rows.sort(key=lambda r: (r["status"] != "Running", r["status"] != "Failed", r["instance_name"] or ""))
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
        for error in report.errors:
            self._err.write(f"target {error.region}/{error.project_id} not read: {error.error_message}\n")
        failed = any(r["status"] == "Failed" for r in rows)
        return EXIT_PROBLEMS if failed or report.errors else EXIT_OK


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
