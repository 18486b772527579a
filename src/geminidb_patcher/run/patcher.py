"""One run, step by step: observe every target, plan, act (in apply mode), report, deliver."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from geminidb_patcher.contract.report import ApprovalSource, Outcome, RunReport, TargetError, TriggerSource
from geminidb_patcher.contract.request import Blackout, RunRequest, Target, Trigger, enforce_limits
from geminidb_patcher.errors import (
    DiscoveryError,
    InternalError,
    NoTargetError,
    PatcherError,
    PlanChangedError,
    UpstreamError,
)
from geminidb_patcher.reconcile import outcomes as outcomes_of
from geminidb_patcher.reconcile.act import ActSettings, Submitter
from geminidb_patcher.reconcile.act_backups import start_backups
from geminidb_patcher.reconcile.budget import ErrorBudget
from geminidb_patcher.reconcile.compliance import compliance
from geminidb_patcher.reconcile.forecast import forecast
from geminidb_patcher.reconcile.observe import SiteRules, observe
from geminidb_patcher.reconcile.plan import Plan, Policy, plan
from geminidb_patcher.reconcile.ports import GeminiDBPort
from geminidb_patcher.reconcile.snapshot import FleetSnapshot
from geminidb_patcher.redaction import Redactor, clip
from geminidb_patcher.run.approval import ApprovalIssuer
from geminidb_patcher.run.discovery import Discovery, discover
from geminidb_patcher.run.events import RunEvents
from geminidb_patcher.run.lease import DEFAULT_POLICY, Holder, LeasePolicy, LeaseStore, RunLeases
from geminidb_patcher.run.publish import Publisher
from geminidb_patcher.run.report import MAX_UPSTREAM_TEXT, RunRecord, build_report, sealed
from geminidb_patcher.transport import Deadline

READ_RESERVE_SHARE = 4
"""Reads stop when less than a quarter of ``DEADLINE_MARGIN_MS`` is left (5 s by default): enough to report."""
CLI_DEADLINE_MS = 3_600_000
"""A terminal has no Lambda deadline; an hour bounds a run all the same."""


class LambdaContext(Protocol):
    """The parts of a Lambda context a run uses."""

    @property
    def aws_request_id(self) -> str:
        """The invocation's request id."""
        ...

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the invocation is stopped."""
        ...


@dataclass(frozen=True)
class RunContext:
    """Who asked, and how much time is left; built here only."""

    run_id: str
    trigger: Trigger
    remaining_ms: Callable[[], int]
    source: TriggerSource | ApprovalSource | None = None

    @classmethod
    def for_invocation(
        cls, context: LambdaContext, trigger: Trigger, source: TriggerSource | ApprovalSource | None = None
    ) -> RunContext:
        """A Lambda invocation: its request id is the run id, its deadline the run's."""
        return cls(context.aws_request_id, trigger, context.get_remaining_time_in_millis, source)

    @classmethod
    def for_terminal(cls, run_id: str, seconds: float = CLI_DEADLINE_MS / 1000) -> RunContext:
        """A run from the CLI, with ``seconds`` to finish (its ``--timeout``)."""
        started = time.monotonic()
        budget_ms = int(seconds * 1000)
        return cls(run_id, "cli", lambda: budget_ms - int((time.monotonic() - started) * 1000))


@dataclass(frozen=True)
class RequestLimits:
    """This deployment's limits on one request (``MAX_INSTANCE_IDS``, ``MAX_TARGETS``)."""

    max_instance_ids: int
    max_targets: int


class Patcher:
    """Runs requests against the targets; the clients, the publisher, the clock and the limits come in here."""

    def __init__(
        self,
        *,
        clients: Callable[[Target, Callable[[], float]], GeminiDBPort],
        default_target: Target | None,
        act_settings: ActSettings,
        events: RunEvents,
        publisher: Publisher,
        channel_names: Sequence[str] = (),
        limits: RequestLimits,
        clock: Callable[[], datetime],
        blackouts: Sequence[Blackout] = (),
        sleep: Callable[[float], None] = time.sleep,
        site_rules: SiteRules | None = None,
        deadline: Deadline | None = None,
        scrub: Callable[[str], str] | None = None,
        lease_store: LeaseStore | None = None,
        lease_policy: LeasePolicy = DEFAULT_POLICY,
        approvals: ApprovalIssuer | None = None,
        discovery: Discovery | None = None,
        discover_by_default: bool = False,
    ) -> None:
        self._clients = clients
        self._default_target = default_target
        self._act_settings = act_settings
        self._events = events
        self._publisher = publisher
        self._channel_names = tuple(channel_names)
        self._limits = limits
        self._clock = clock
        self._blackouts = tuple(blackouts)
        self._sleep = sleep
        self._site_rules = site_rules or SiteRules()
        self._deadline = deadline or Deadline()
        self._scrub = scrub or Redactor().text
        self._lease_store = lease_store
        self._lease_policy = lease_policy
        self._approvals = approvals
        self._discovery = discovery
        self._discover_by_default = discover_by_default

    def run(self, request: RunRequest, context: RunContext) -> RunReport:
        """Run ``request`` to the end, observe → plan → act → report, then publish once.

        Every instance in scope gets exactly one outcome. While it runs, the run only tells ``events`` (log
        records); the report is built once from what it observed, planned and did, then published.
        """
        enforce_limits(request, max_instance_ids=self._limits.max_instance_ids, max_targets=self._limits.max_targets)
        self._deadline.start(context.remaining_ms() / 1000)
        started = self._clock()
        self._events.run_started(context.run_id, context.trigger, request.mode)
        targets = self._targets(request)
        ports = self._ports_for(context)
        leases = self._leases_for(request, context, started)
        applying = request.mode == "apply"
        try:
            snapshots, errors = self._observe_leased(ports, targets, request, leases)
            result = self._plan(snapshots, request, context)
            backed = self._start_backups(ports, result, context) if applying and result else {}
            acted, raw_results = self._act(ports, result, context, leases) if applying and result else ([], [])
        finally:
            if leases is not None:
                leases.release()
        held = [backed.get(outcome.instance_id, outcome) for outcome in outcomes_of.held(result)] if result else []
        outcomes = [*held, *(acted if applying else outcomes_of.planned(result))] if result else []
        record = RunRecord(
            run_id=context.run_id,
            trigger=context.trigger,
            source=context.source,
            request=request,
            started_at=started,
            targets=targets,
            errors=errors,
            plan=result,
            outcomes=outcomes,
            upgrade_results=raw_results,
            compliance=compliance(snapshots, result.holds if result else ()),
            next_steps=forecast(result, acted, started),
            lease_notes=self._lease_notes(request, leases),
        )
        report = sealed(build_report(record, self._clock(), self._channel_names), self._scrub)
        offer = self._approvals.offer(report, request) if self._approvals else None
        if offer is not None:
            report = report.model_copy(update={"approval": offer})
        self._publisher.publish(report, request)
        return report

    def _targets(self, request: RunRequest) -> list[Target]:
        """The request's targets; ``"all"`` (or none, when the deployment discovers by default) asks IAM."""
        if request.targets == "all" or (request.targets is None and self._discover_by_default):
            if self._discovery is None:
                raise NoTargetError("targets 'all' needs IAM discovery, which this deployment does not wire")
            try:
                return discover(self._discovery, self._limits.max_targets)
            except UpstreamError as error:  # it ends the invocation: scrubbed here, as a report's texts are
                said = clip(self._scrub(str(error.message or error)), MAX_UPSTREAM_TEXT)
                raise DiscoveryError(f"listing the account's projects (IAM) failed: {said}", error.error_code) from None
        targets = list(dict.fromkeys(request.targets or ([self._default_target] if self._default_target else [])))
        if not targets:
            raise NoTargetError("no targets in the request and no default target configured")
        return targets

    def _plan(self, snapshots: list[FleetSnapshot], request: RunRequest, context: RunContext) -> Plan | None:
        """The plan over what was observed (none when nothing was); a pinned apply whose plan changed stops here."""
        if not snapshots:
            return None
        result = plan(snapshots, request, Policy.resolve(request, context.trigger, self._blackouts), self._clock())
        if request.mode == "apply" and request.expected_plan_id and request.expected_plan_id != result.plan_id:
            self._events.plan_changed(request.expected_plan_id, result.plan_id)
            raise PlanChangedError(request.expected_plan_id, result.plan_id)
        return result

    def _leases_for(self, request: RunRequest, context: RunContext, started: datetime) -> RunLeases | None:
        """An apply's leases (none for a plan, nor without a store)."""
        if request.mode != "apply" or self._lease_store is None:
            return None

        def time_left() -> float:
            left = self._deadline.left()
            return float("inf") if left is None else left - self._act_settings.deadline_margin_ms / 1000

        holder = Holder.for_run(context.run_id, context.trigger, started)
        return RunLeases(self._lease_store, holder, self._lease_policy, sleep=self._sleep, time_left=time_left)

    def _observe_leased(
        self,
        ports: Callable[[Target], GeminiDBPort],
        targets: list[Target],
        request: RunRequest,
        leases: RunLeases | None,
    ) -> tuple[list[FleetSnapshot], list[TargetError]]:
        """Take the leases, then observe: a target whose lease store failed is an error and is not observed.

        Observation reads up to the moment after the leases were taken: jobs a previous holder started while this
        run waited for its lease must be seen.
        """
        refused = leases.take(targets) if leases is not None else {}
        now = self._clock()
        errors = [self._target_failed(target, error) for target, error in refused.items()]
        for target, holder in (leases.busy() if leases is not None else {}).items():
            self._events.lease_busy(target, holder)
        observed = [target for target in targets if target not in refused]
        snapshots, failed = self._observe_all(ports, observed, request, now) if observed else ([], [])
        return snapshots, errors + failed

    def _lease_notes(self, request: RunRequest, leases: RunLeases | None) -> list[str]:
        if request.mode != "apply":
            return []
        if leases is None:
            return ["Overlapping applies are not guarded: PATCHER_LOCK_TABLE is not set, so no apply lease was taken."]
        return [
            f"Another run holds the apply lease of {target.region}/{target.project_id} ({holder.describe()}): "
            "nothing was submitted there; a later run picks it up."
            for target, holder in leases.busy().items()
        ]

    def _ports_for(self, context: RunContext) -> Callable[[Target], GeminiDBPort]:
        """One client per target for the whole run, each bounded by the run's deadline."""
        reserve_ms = self._act_settings.deadline_margin_ms / READ_RESERVE_SHARE

        def time_left() -> float:
            """Seconds the calls of this run may still use: the report and the notifications keep the reserve."""
            return (context.remaining_ms() - reserve_ms) / 1000

        return functools.cache(lambda target: self._clients(target, time_left))

    def _observe_all(
        self, ports: Callable[[Target], GeminiDBPort], targets: list[Target], request: RunRequest, now: datetime
    ) -> tuple[list[FleetSnapshot], list[TargetError]]:
        """Observe every target concurrently; a target that fails is reported, the others go on."""

        def one(target: Target) -> FleetSnapshot | TargetError:
            try:
                concurrency = self._act_settings.concurrency
                return observe(ports(target), target, now, request, concurrency, self._site_rules)
            except UpstreamError as error:
                return self._target_failed(target, error)
            except PatcherError:
                raise  # configuration: the whole run is refused, as before anything was sent
            except Exception as unexpected:  # one target's fault must not end the run without a report
                return self._target_failed(target, InternalError("observing the target", unexpected))

        workers = max(1, min(len(targets), self._act_settings.concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="observe") as pool:
            results = list(pool.map(one, targets))
        snapshots = [r for r in results if isinstance(r, FleetSnapshot)]
        return snapshots, [r for r in results if isinstance(r, TargetError)]

    def _target_failed(self, target: Target, error: UpstreamError) -> TargetError:
        """Tell the events, and keep the target's entry for the report."""
        self._events.target_failed(target, error)
        return TargetError(
            region=target.region, project_id=target.project_id, error_code=error.error_code, error_message=str(error)
        )

    def _start_backups(
        self, ports: Callable[[Target], GeminiDBPort], result: Plan, context: RunContext
    ) -> dict[str, Outcome]:
        """The manual backups the plan asks for (``backup.create``), started before the batches, each once."""
        if not result.backups:
            return {}
        return start_backups(ports, result.backups, self._clock(), context.run_id, self._act_settings.concurrency)

    def _act(
        self, ports: Callable[[Target], GeminiDBPort], result: Plan, context: RunContext, leases: RunLeases | None
    ) -> tuple[list[Outcome], list[dict[str, Any]]]:
        """Submit the plan's batches: one outcome per instance in them, and Huawei's items verbatim."""
        submitter = Submitter(
            ports,
            self._act_settings,
            ErrorBudget.for_rollout(result.rollout),
            clock=self._clock,
            remaining_ms=context.remaining_ms,
            on_batch=self._events.batch_done,
            sleep=self._sleep,
            hold=leases.hold_reason if leases is not None else None,
        )
        return submitter.run(result.batches)
