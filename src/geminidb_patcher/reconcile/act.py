"""Submit a plan's batches: bounded concurrency, a deadline, one outcome per instance."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from geminidb_patcher.contract.reasons import Reason
from geminidb_patcher.contract.report import Outcome
from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import InternalError, UpstreamError
from geminidb_patcher.reconcile.budget import PERMISSION_DENIED, ErrorBudget
from geminidb_patcher.reconcile.observe import api_now
from geminidb_patcher.reconcile.outcomes import OutcomeFields, outcome_for
from geminidb_patcher.reconcile.plan import Batch
from geminidb_patcher.reconcile.ports import STATE_REFUSAL_CODES, GeminiDBPort, UpgradeResult
from geminidb_patcher.reconcile.snapshot import is_upgrade_job

RECHECK_WINDOW = timedelta(minutes=5)
CONFIRM_PAUSES = (0.0, 1.0, 2.0, 4.0, 8.0)
"""Pauses before each re-read of the jobs after an ambiguous submission: up to 15 s in all, within the deadline."""


@dataclass(frozen=True)
class BatchRecord:
    """What one batch call returned, for the per-batch log record."""

    target: Target
    engine: str
    instance_ids: list[str]
    upgrade_results: list[dict[str, Any]]
    error: UpstreamError | None
    confirmed_by_reobservation: int
    """After a failed call: how many of the batch's instances re-reading the jobs found submitted."""
    duration_ms: float = 0.0


@dataclass(frozen=True)
class ActSettings:
    """Limits of one act step."""

    concurrency: int
    deadline_margin_ms: int


def _outcome(batch: Batch, index: int, reason: Reason | None = None, **fields: Unpack[OutcomeFields]) -> Outcome:
    fields["wave"] = batch.waves[index] if index < len(batch.waves) else None
    return outcome_for(batch.target, batch.instances[index].id, batch.instances[index], reason, **fields)


def _reobserve(port: GeminiDBPort, since: datetime, now: datetime) -> dict[str, str]:
    """instance ID → job ID of upgrade jobs started since ``since``, up to now; empty when even that fails."""
    try:
        jobs = port.list_jobs(start_time=since, end_time=api_now(now))  # every name: see observed_jobs
    except UpstreamError:
        return {}
    return {job.instance_id: job.id for job in jobs if is_upgrade_job(job.name)}


def _sharing_ids(items: list[dict[str, Any]], batch: Batch) -> list[dict[str, Any]]:
    """Huawei's items verbatim, each ``instance_id`` the batch's own equal string (4 MB less at 50,000 results)."""
    ids = {instance.id: instance.id for instance in batch.instances}
    for item in items:
        shared = ids.get(str(item.get("instance_id")))
        if shared is not None:
            item["instance_id"] = shared
    return items


class Submitter:
    """Runs a plan's batches, stopping when the deadline nears or the error budget is spent."""

    def __init__(
        self,
        ports: Callable[[Target], GeminiDBPort],
        settings: ActSettings,
        budget: ErrorBudget,
        *,
        clock: Callable[[], datetime],
        remaining_ms: Callable[[], int],
        on_batch: Callable[[BatchRecord], None],
        sleep: Callable[[float], None] = time.sleep,
        hold: Callable[[Target], tuple[Reason, str] | None] | None = None,
    ) -> None:
        self._ports = ports
        self._hold = hold
        """Why a target must get nothing now (another run holds its apply lease), checked before every batch."""
        self._budget = budget
        self._settings = settings
        self._clock = clock
        self._remaining_ms = remaining_ms
        self._on_batch = on_batch
        self._sleep = sleep

    def run(self, batches: tuple[Batch, ...]) -> tuple[list[Outcome], list[dict[str, Any]]]:
        """Submit every batch that fits before the deadline; return outcomes and the raw results."""
        if not batches:
            return [], []
        workers = max(1, min(self._settings.concurrency, len(batches)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="submit") as pool:
            done = list(pool.map(self._submit, batches))
        outcomes = [outcome for batch_outcomes, _ in done for outcome in batch_outcomes]
        raw = [item for _, items in done for item in items]
        return outcomes, raw

    def _submit(self, batch: Batch) -> tuple[list[Outcome], list[dict[str, Any]]]:
        held = self._held(batch)
        if held is not None:
            reason, detail = held
            return [
                _outcome(batch, i, outcome="deferred", reason=reason, detail=detail)
                for i in range(len(batch.instances))
            ], []
        started = self._clock()
        began = time.perf_counter()
        port = self._ports(batch.target)
        raw: list[dict[str, Any]] = []
        try:
            results = port.batch_upgrade(batch.instance_ids)
        except UpstreamError as error:
            elapsed = (time.perf_counter() - began) * 1000
            if error.error_code in STATE_REFUSAL_CODES and not error.may_have_arrived:
                outcomes = self._after_refusal(port, batch, error, started, elapsed)
            else:
                outcomes = self._after_error(port, batch, error, started, elapsed)
        except Exception as unexpected:  # one batch's fault must not end the run without a report
            internal = InternalError("submitting a batch", unexpected)
            outcomes = self._after_error(port, batch, internal, started, (time.perf_counter() - began) * 1000)
        else:
            raw = _sharing_ids([result.raw for result in results], batch)
            elapsed = (time.perf_counter() - began) * 1000
            self._on_batch(BatchRecord(batch.target, batch.engine, batch.instance_ids, raw, None, 0, elapsed))
            outcomes = self._classify(batch, results)
            if any(o.outcome == "rejected" and o.error_code in STATE_REFUSAL_CODES for o in outcomes):
                outcomes = self._upgrading_elsewhere(port, batch, outcomes, started)
        self._budget.record(outcomes)
        return outcomes, raw

    def _held(self, batch: Batch) -> tuple[Reason, str] | None:
        """Why ``batch`` must not go out now, if it must not."""
        if self._budget.exhausted:
            return "error_budget_exhausted", "Not submitted: this run's errors exceeded max_errors."
        if self._remaining_ms() < self._settings.deadline_margin_ms:
            return "deadline", "Not submitted: the invocation's deadline was near. The next run picks it up."
        return self._hold(batch.target) if self._hold is not None else None

    def _classify(self, batch: Batch, results: list[UpgradeResult]) -> list[Outcome]:
        by_id = {result.instance_id: result for result in results}
        outcomes = []
        for index, instance in enumerate(batch.instances):
            result = by_id.get(instance.id)
            if result is None:
                outcomes.append(
                    _outcome(
                        batch,
                        index,
                        outcome="failed",
                        error_code="MISSING_RESULT",
                        error_message="The 202 answer had no item for this instance.",
                    )
                )
            elif result.job_id:
                outcomes.append(_outcome(batch, index, outcome="submitted", job_id=result.job_id))
            else:
                outcomes.append(
                    _outcome(
                        batch,
                        index,
                        outcome="rejected",
                        error_code=result.error_code,
                        error_message=result.error_message,
                    )
                )
        return outcomes

    def _upgrading_elsewhere(
        self, port: GeminiDBPort, batch: Batch, outcomes: list[Outcome], started: datetime
    ) -> list[Outcome]:
        """Per-item "not now" refusals of instances a re-read shows upgrading: the loser of an overlap, skipped."""
        running = _reobserve(port, started - RECHECK_WINDOW, self._clock())
        settled = []
        for index, outcome in enumerate(outcomes):
            job = running.get(outcome.instance_id)
            if outcome.outcome == "rejected" and outcome.error_code in STATE_REFUSAL_CODES and job:
                detail = (
                    f"Huawei refused it ({outcome.error_code}) because upgrade job {job} is already running for it, "
                    "started by another run or by hand."
                )
                settled.append(_outcome(batch, index, outcome="skipped", reason="upgrade_running", detail=detail))
            else:
                settled.append(outcome)
        return settled

    def _after_refusal(
        self, port: GeminiDBPort, batch: Batch, error: UpstreamError, started: datetime, elapsed_ms: float
    ) -> list[Outcome]:
        """The whole batch refused for the instances' state: nothing started; re-read who is upgrading anyway."""
        running = _reobserve(port, started - RECHECK_WINDOW, self._clock())
        self._on_batch(BatchRecord(batch.target, batch.engine, batch.instance_ids, [], error, 0, elapsed_ms))
        outcomes = []
        for index, instance in enumerate(batch.instances):
            job = running.get(instance.id)
            reason: Reason
            if job:
                reason = "upgrade_running"
                detail = f"Huawei refused the batch ({error.error_code}); upgrade job {job} is running for it."
            else:
                reason = "busy"
                detail = (
                    f"Huawei refused the whole batch with {error.error_code} ({error.message}): nothing was started "
                    "for this instance; a later run tries again. Not counted against max_errors."
                )
            outcomes.append(_outcome(batch, index, outcome="skipped", reason=reason, detail=detail))
        return outcomes

    def _after_error(
        self, port: GeminiDBPort, batch: Batch, error: UpstreamError, started: datetime, elapsed_ms: float
    ) -> list[Outcome]:
        ambiguous = error.may_have_arrived
        confirmed, waited_s = self._confirm(port, batch, started) if ambiguous else ({}, 0.0)
        record = BatchRecord(batch.target, batch.engine, batch.instance_ids, [], error, len(confirmed), elapsed_ms)
        self._on_batch(record)
        waited = f" within {waited_s:.0f} s" if waited_s else ""
        unconfirmed = (
            f"Unconfirmed: the call failed after the request may have reached Huawei ({error.message}), and no "
            f"upgrade job for this instance appeared{waited}. Check its UpgradeDbVersion jobs (ListJobs, the "
            "console's task center) before retrying; the next run skips it if a job started."
        )
        outcomes = []
        for index, instance in enumerate(batch.instances):
            job_id = confirmed.get(instance.id)
            if job_id:
                outcomes.append(
                    _outcome(
                        batch,
                        index,
                        outcome="submitted",
                        job_id=job_id,
                        detail="The batch call failed after it was sent; re-observation found the upgrade job.",
                    )
                )
            elif error.missing_permission:
                outcomes.append(
                    _outcome(
                        batch,
                        index,
                        outcome="failed",
                        error_code=PERMISSION_DENIED,
                        error_message=str(error.message),
                        detail=f"A configuration error, not this instance's: {error.missing_permission}.",
                    )
                )
            else:
                outcomes.append(
                    _outcome(
                        batch,
                        index,
                        outcome="failed",
                        error_code=error.error_code or type(error).__name__,
                        error_message=str(error.message),
                        detail=unconfirmed if ambiguous else None,
                    )
                )
        return outcomes

    def _confirm(self, port: GeminiDBPort, batch: Batch, started: datetime) -> tuple[dict[str, str], float]:
        """Re-read the jobs until every instance of ``batch`` has one, with backoff, within the deadline.

        An answer lost to a read timeout may still be processed: the jobs can appear seconds later.
        """
        wanted = set(batch.instance_ids)
        confirmed: dict[str, str] = {}
        waited = 0.0
        for pause in CONFIRM_PAUSES:
            if pause:
                if self._remaining_ms() - pause * 1000 < self._settings.deadline_margin_ms / 2:
                    break
                self._sleep(pause)
                waited += pause
            found = _reobserve(port, started - RECHECK_WINDOW, self._clock())
            confirmed.update((instance_id, job) for instance_id, job in found.items() if instance_id in wanted)
            if wanted <= confirmed.keys():
                break
        return confirmed, waited
