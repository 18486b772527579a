"""The approval pages as HTML: rendered on the server, no script, no external asset, every value escaped."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from geminidb_patcher.contract.approval import ApprovalGrant
from geminidb_patcher.contract.report import Outcome, RunReport
from geminidb_patcher.contract.request import engine_name

STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}"
    "table{border-collapse:collapse;width:100%;margin:.4rem 0}"
    "th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "code{font-size:.9em}.note{color:#57606a}.warn{background:#fff8c5;padding:.6rem .8rem;border-radius:6px}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}"
    "button,.button{font:inherit;font-weight:600;padding:.55rem 1.2rem;border-radius:6px;border:0;"
    "background:#1f883d;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
"""Every approval page's headers: never cached or framed, no referrer (the URL is the capability), only our style."""


@dataclass(frozen=True)
class Page:
    """One HTML answer."""

    status: int
    title: str
    body: str

    def html(self) -> str:
        """The whole document."""
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{escape(self.title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(self.title)}</h1>{self.body}</body></html>"
        )


def _at(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "—"


def _targets(report: RunReport) -> str:
    return ", ".join(f"<code>{escape(t.region)}/{escape(t.project_id)}</code>" for t in report.targets)


def _limits(grant: ApprovalGrant) -> str:
    request = grant.request
    spec = request.window
    window = spec if isinstance(spec, str) or spec is None else f"{spec.start:%H:%M}-{spec.end:%H:%M} {spec.timezone}"
    rows = [
        ("Plan", f"<code>{escape(grant.plan_id)}</code>"),
        ("Link", f"<code>{escape(grant.token_id)}</code>, issued {_at(grant.moment('issued_at'))}"),
        ("Expires", _at(grant.moment("expires_at"))),
        ("Window", escape(str(window))),
        ("max_in_flight", escape(str(request.max_in_flight))),
        ("max_errors", escape(str(request.max_errors))),
    ]
    if request.waves:
        rows.append(("Waves", escape(", ".join(wave.name for wave in request.waves))))
    return "<dl>" + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows) + "</dl>"


def _batch(detail: str | None) -> str:
    """``1 of 3`` out of a planned outcome's detail (``Would be submitted in batch 1 of 3 (cassandra).``)."""
    found = re.search(r"batch (\d+ of \d+)", detail or "")
    return found.group(1) if found else (detail or "")


def _instance_rows(outcomes: Sequence[Outcome], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows = []
    for o in outcomes:
        cells = {
            "Instance": f"{escape(o.instance_name or '')}<br><code>{escape(o.instance_id)}</code>",
            "Version": escape(o.version or "—"),
            "Window": escape(o.maintenance_window or "—"),
            "Wave": escape(o.wave or "—"),
            "Batch": escape(_batch(o.detail)),
            "Outcome": escape(o.outcome),
            "Job or reason": escape(o.job_id or o.reason or o.error_code or ""),
            "Detail": escape(o.error_message or o.detail or ""),
        }
        rows.append("<tr>" + "".join(f"<td>{cells[c]}</td>" for c in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _by_engine(outcomes: Sequence[Outcome], columns: Sequence[str]) -> str:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[engine_name(outcome.engine)].append(outcome)
    return "".join(
        f"<h2>{escape(engine)} ({len(items)})</h2>{_instance_rows(items, columns)}"
        for engine, items in sorted(groups.items())
    )


def _held(report: RunReport) -> str:
    held = Counter(o.reason or o.outcome for o in report.outcomes if o.outcome in ("skipped", "deferred"))
    if not held:
        return ""
    parts = ", ".join(f"{escape(reason)} {count}" for reason, count in held.most_common())
    return f'<p class="note">Held back and not part of this plan: {sum(held.values())} ({parts}).</p>'


def plan_page(grant: ApprovalGrant, current: RunReport, fresh_token: str | None) -> Page:
    """The plan a link names, as the fleet shows it now, with one button; or why it cannot be applied as it is."""
    planned = [o for o in current.outcomes if o.outcome == "planned"]
    intro = f"<p>Targets: {_targets(current)}. Read just now from the GeminiDB API.</p>{_limits(grant)}"
    if current.plan_id != grant.plan_id or not planned:
        again = (
            f'<p><a class="button" href="{escape(fresh_token)}">Review the current plan</a></p>' if fresh_token else ""
        )
        now_id = escape(current.plan_id or "")
        what = f"It is now <code>{now_id}</code>." if planned else "There is nothing to apply now."
        body = (
            f'<p class="warn">The plan has changed since this link was issued. {what} Nothing was sent.</p>'
            f"{intro}{again}{_by_engine(planned, ('Instance', 'Version', 'Window', 'Wave', 'Batch'))}{_held(current)}"
        )
        return Page(409, "This plan has changed", body)
    form = (
        '<form method="post"><p><button type="submit">Apply this plan</button></p>'
        f'<p class="note">Submits the {len(planned)} instance(s) below to GeminiDB\'s upgrade API, exactly this plan: '
        "if the fleet has changed by the time you press it, nothing is sent.</p></form>"
    )
    body = f"{intro}{form}{_by_engine(planned, ('Instance', 'Version', 'Window', 'Wave', 'Batch'))}{_held(current)}"
    return Page(200, f"Review and apply: {len(planned)} instance(s) to patch", body)


def result_page(grant: ApprovalGrant, report: RunReport) -> Page:
    """What the apply did, per instance, and its run ID."""
    counts = " · ".join(f"{kind} {count}" for kind, count in report.counts.items() if count) or "nothing in scope"
    columns = ("Instance", "Outcome", "Job or reason", "Detail")
    order = {"failed": 0, "rejected": 1, "submitted": 2}
    shown = sorted((o for o in report.outcomes if o.outcome in order), key=lambda o: order[o.outcome])
    errors = "".join(
        f"<li><code>{escape(e.region)}/{escape(e.project_id)}</code>: {escape(e.error_message)}</li>"
        for e in report.errors
    )
    body = (
        f"<p>Run <code>{escape(report.run_id)}</code> applied plan <code>{escape(grant.plan_id)}</code>: "
        f"<strong>{escape(counts)}</strong>.</p>"
        + (f'<p class="warn">Targets not observed:</p><ul>{errors}</ul>' if errors else "")
        + _by_engine(shown, columns)
        + _held(report)
        + '<p class="note">The run report went to the configured notification channels and the logs.</p>'
    )
    return Page(200, "Plan applied", body)


def changed_page(grant: ApprovalGrant, now_plan: str | None, fresh_token: str | None) -> Page:
    """The apply found another plan: nothing was sent; a button plans again under a new link."""
    again = f'<p><a class="button" href="{escape(fresh_token)}">Plan again</a></p>' if fresh_token else ""
    now = f"now <code>{escape(now_plan)}</code>" if now_plan else "now there is nothing to apply"
    body = (
        f'<p class="warn">The plan has changed since it was reviewed (<code>{escape(grant.plan_id)}</code>, {now}): '
        f"instances started upgrading, finished, or left their windows. Nothing was sent.</p>{again}"
    )
    return Page(409, "The plan has changed", body)


def busy_page() -> Page:
    """Another run holds the apply lease of a target: what it held back was not sent."""
    body = (
        '<p class="warn">Another run is applying to a target of this plan; nothing was sent there. '
        "Reload this page in a minute to review the plan again.</p>"
    )
    return Page(409, "Another run is applying", body)


def simple_page(status: int, title: str, text: str) -> Page:
    """A page that only says something: expired, not found, refused, failed."""
    return Page(status, title, f"<p>{escape(text)}</p>")
