"""What the CLI prints: the outcome table, the compliance table, the window rule line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.contract.request import RunRequest


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
        f"{outcome['estimate_minutes']} min" if outcome.get("estimate_minutes") else "-",
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


def _print_report(report: RunReport, output: str, out: TextIO, rule: str = "", *, with_link: bool = False) -> None:
    data = report.model_dump(mode="json")
    if with_link and report.approval is not None and report.approval.url is not None:
        data["approval"]["url"] = report.approval.url  # asked for at a terminal: the one place it is printed
    if output == "json":
        out.write(json.dumps(data, indent=2) + "\n")
        return
    rows = [_row(o) for o in data["outcomes"]]
    header = ("INSTANCE", "ENGINE", "VERSION", "MAINT-WINDOW", "ESTIMATE", "OUTCOME", "JOB / ERROR / REASON")
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
