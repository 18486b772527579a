"""One channel-neutral digest of a run, and the rule that fits it into a channel's size limit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from geminidb_patcher.contract.report import ApprovalSource, EngineCompliance, NextStep, Outcome, RunReport
from geminidb_patcher.contract.request import engine_name
from geminidb_patcher.contract.tally import compliance_totals

Severity = Literal["ok", "warning", "failure"]
NotifyOn = Literal["always", "changes", "failures"]
PER_INSTANCE = ("submitted", "rejected", "failed")


@dataclass(frozen=True)
class Section:
    """A heading and its lines, e.g. ``Rejected (2)`` and one line per instance."""

    heading: str
    lines: tuple[str, ...]
    whole: bool = False
    """Kept whole before any other section gets room (the one-line Compliance and Next summaries)."""


@dataclass(frozen=True)
class Link:
    """A button or link the channel shows below the sections: ``Review and apply`` for a plan's approval page."""

    label: str
    url: str
    note: str
    """Said beside it, e.g. ``valid until 2026-11-28 14:00 UTC``."""


@dataclass(frozen=True)
class Digest:
    """What every channel shows, before formatting."""

    title: str
    severity: Severity
    counts: tuple[tuple[str, int], ...]
    sections: tuple[Section, ...]
    footer: str
    link: Link | None = None

    @property
    def counts_line(self) -> str:
        """``submitted 3 · skipped 2``: the non-zero counts."""
        return " · ".join(f"{kind} {count}" for kind, count in self.counts if count) or "nothing in scope"


def compliance_line(entries: Sequence[EngineCompliance]) -> str:
    """``Cassandra 58/60 no patch offered · Redis 41/45 no patch offered (2 need an operator)``, summed over targets.

    Current is what the API says: no patch offered (``patch_available`` false), and, where the fleet shows a newer
    full version of the same engine, on that version; ``older`` names those with no patch offered but behind it.
    """
    parts = []
    for engine, tally in compliance_totals(entries).items():
        part = f"{engine_name(engine)} {tally['current']}/{tally['instances']} no patch offered"
        notes = []
        if tally["older"]:
            notes.append(f"{tally['older']} more offered none but run an older version")
        if tally["stuck"]:
            notes.append(f"{tally['stuck']} {'needs' if tally['stuck'] == 1 else 'need'} an operator")
        parts.append(part + (f" ({'; '.join(notes)})" if notes else ""))
    return " · ".join(parts)


def _at(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "a time not known yet"


def _step_text(step: NextStep) -> str:
    """One group of a forecast in words, e.g. ``12 in their windows within 24 h (first 2026-11-27 22:00 UTC)``."""
    n, kind = step.instances, step.waiting_for
    if kind == "window":
        later = n - step.within_a_day
        if not later:
            return f"{n} in their windows within 24 h (first {_at(step.earliest_at)})"
        if not step.within_a_day:
            return f"{n} in their windows after 24 h (first {_at(step.earliest_at)})"
        return f"{step.within_a_day} in their windows within 24 h (first {_at(step.earliest_at)}), {later} later"
    if kind == "wave":
        return f"{n} after wave '{step.wave}'" + (
            f" bakes (until {_at(step.earliest_at)})" if step.earliest_at else " is patched"
        )
    texts = {
        "upgrading": f"{n} upgrading or scheduled now",
        "blackout": f"{n} after the blackout (ends {_at(step.earliest_at)})",
        "peer": f"{n} after their DR or dual-active peer",
        "backup": f"{n} once a fresh full backup has completed (backup.within)",
        "in_flight": f"{n} as running upgrades finish (max_in_flight)",
        "next_run": f"{n} on the next run",
        "error_budget": f"{n} once the error budget allows (an operator must act)",
        "no_window": f"{n} with no maintenance window long enough (only an explicit window or 'anytime' patches them)",
    }
    return texts[kind]


def forecast_line(steps: Sequence[NextStep]) -> str:
    """``12 in their windows within 24 h (first …) · 30 after wave 'canary' bakes (until …)``."""
    return " · ".join(map(_step_text, steps))


def _scope(report: RunReport) -> str:
    targets = report.targets
    if len(targets) == 1:
        return f"{targets[0].region}/{targets[0].project_id[:8]}…"
    return f"{len(targets)} targets"


def _instance_line(outcome: Outcome) -> str:
    name = outcome.instance_name or outcome.instance_id
    where = f"{name} ({outcome.engine or '?'})"
    if outcome.outcome == "submitted":
        return f"{where}: job {outcome.job_id}"
    return f"{where}: {outcome.error_code or 'error'} {outcome.error_message or ''}".rstrip()


def _grouped(outcomes: Sequence[Outcome]) -> tuple[str, ...]:
    reasons = Counter(outcome.reason or "unspecified" for outcome in outcomes)
    return tuple(f"{reason}: {count}" for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def has_failures(report: RunReport) -> bool:
    """Something went wrong: a rejection, a failed call or job, an unreadable target, a spent error budget."""
    return bool(
        report.counts.get("rejected")
        or report.counts.get("failed")
        or report.errors
        or any(job.status == "Failed" for job in report.jobs)
        or (report.rollout is not None and report.rollout.error_budget_exhausted)
    )


def has_changes(report: RunReport) -> bool:
    """Something happened or waits for a person: an instance was submitted, rejected or failed, an upgrade job
    ended, or a plan waits for a person to approve it (its link, or why it has none)."""
    return bool(
        report.counts.get("submitted")
        or has_failures(report)
        or any(job.status in ("Completed", "Failed") for job in report.jobs)
        or report.approval is not None
    )


def worth_sending(report: RunReport, notify_on: NotifyOn) -> bool:
    """Whether a channel with ``notify_on`` gets this run's digest."""
    if notify_on == "always":
        return True
    return has_failures(report) if notify_on == "failures" else has_changes(report)


def build_digest(report: RunReport) -> Digest:
    """Title, counts, one line per submitted/rejected/failed instance, grouped holds, ended jobs, the run id."""
    severity: Severity = "failure" if has_failures(report) else "ok"
    if severity == "ok" and report.counts.get("deferred"):
        severity = "warning"
    sections: list[Section] = []
    if report.compliance:
        sections.append(Section("Compliance", (compliance_line(report.compliance),), whole=True))
    if report.next_steps:
        sections.append(Section("Next", (forecast_line(report.next_steps),), whole=True))
    for kind in PER_INSTANCE:
        chosen = [o for o in report.outcomes if o.outcome == kind]
        if chosen:
            sections.append(Section(f"{kind.capitalize()} ({len(chosen)})", tuple(map(_instance_line, chosen))))
    for kind in ("skipped", "deferred"):
        chosen = [o for o in report.outcomes if o.outcome == kind]
        if chosen:
            sections.append(Section(f"{kind.capitalize()} ({len(chosen)}) by reason", _grouped(chosen)))
    ended = [job for job in report.jobs if job.status in ("Completed", "Failed")]
    if ended:
        lines = tuple(
            f"{job.instance_name or job.instance_id}: {job.status}"
            + (f" ({job.fail_reason})" if job.fail_reason else "")
            for job in sorted(ended, key=lambda job: (job.status != "Failed", job.instance_name or ""))
        )
        sections.append(Section(f"Upgrade jobs ended since the last period ({len(ended)})", lines))
    if report.errors:
        lines = tuple(f"{e.region}/{e.project_id}: {e.error_code or ''} {e.error_message}" for e in report.errors)
        sections.append(Section(f"Targets not observed ({len(report.errors)})", lines))
    approval = _approval_line(report)
    if approval:
        sections.insert(0, Section("Approval", (approval,), whole=True))
    if report.notes:
        sections.append(Section("Notes", tuple(report.notes)))
    footer = f"Run {report.run_id}" + (f" · plan {report.plan_id}" if report.plan_id else "")
    footer += f" · {report.started_at:%Y-%m-%d %H:%M} UTC"
    return Digest(
        title=f"GeminiDB patch {report.mode} ({report.trigger}) · {_scope(report)}",
        severity=severity,
        counts=tuple((kind, count) for kind, count in report.counts.items()),
        sections=tuple(sections),
        footer=footer,
        link=_approval_link(report),
    )


APPROVE_LABEL = "Review and apply"


def _approval_link(report: RunReport) -> Link | None:
    offer = report.approval
    if offer is None or offer.url is None:
        return None
    return Link(APPROVE_LABEL, offer.url, f"this plan only, valid until {_at(offer.expires_at)}")


def _approval_line(report: RunReport) -> str | None:
    """How an apply was approved, or why a plan has no approval link."""
    source = report.source
    if isinstance(source, ApprovalSource):
        return (
            f"Applied from an approval link ({source.token_id}, issued {_at(source.issued_at)}) "
            f"for plan {source.plan_id}."
        )
    if report.approval is not None and report.approval.unavailable:
        return f"No approval link: {report.approval.unavailable}"
    return None


def fit_lines(
    lines: Sequence[str], budget: int, measure: Callable[[str], int], joiner: str = "\n", bullet: str = ""
) -> str:
    """As many whole lines as fit in ``budget``, then ``… and N more`` (with the lines' ``bullet``, so it stays in
    the list or quote); never over budget.

    ``measure`` must add up over concatenation (``len``, UTF-8 bytes), so each line is measured once.
    """
    sep = measure(joiner)
    used = [0]  # used[k]: size of the first k lines joined
    for index, line in enumerate(lines):
        used.append(used[-1] + measure(line) + (sep if index else 0))
    if used[-1] <= budget:
        return joiner.join(lines)
    for keep in range(len(lines) - 1, -1, -1):
        more = f"{bullet}… and {len(lines) - keep} more"
        if used[keep] + (sep if keep else 0) + measure(more) <= budget:
            return joiner.join([*lines[:keep], more])
    return ""


def utf8_size(text: str) -> int:
    """Bytes in UTF-8, for the channels that count bytes."""
    return len(text.encode())
