"""The approval round trip in a real browser: headless Chromium (the system's) driven by Playwright, against
``python -m geminidb_local serve`` with its embedded simulator. A screenshot of each page goes to local-out/approvals/.

Skipped, with the reason, where Playwright or a Chromium cannot be found; the HTML-level tests (the form, the
headers, GET without side effects) run everywhere (tests/unit/entrypoints, tests/functional/entrypoints).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from geminidb_patcher.contract.signatures import sign_headers

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "local-out" / "approvals"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


def chromium() -> str:
    """The system's Chromium (``CHROMIUM`` names another); Playwright's own download is not used."""
    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        pytest.skip("no Chromium on this machine (apt-get install chromium); the HTML-level tests still run")
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``serve`` on a free port: its address, the simulator's, and the webhook secret it wrote."""
    workdir = tmp_path_factory.mktemp("serve")
    process = subprocess.Popen(
        [sys.executable, "-m", "geminidb_local", "serve", "--port", "0"],
        cwd=workdir,
        env={key: value for key, value in os.environ.items() if not key.startswith(("GEMINIDB_", "WEBHOOK_"))},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        listening = process.stdout.readline()
        simulator = process.stderr.readline()
        base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", listening)
        sim = re.search(r"embedded simulator at (http://127\.0\.0\.1:\d+)", simulator)
        assert base and sim, (listening, simulator)
        secret = (workdir / "local-out" / "webhook-secret").read_text()
        yield {"base": base.group(1), "simulator": sim.group(1), "secret": secret}
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield launched
        launched.close()


def plan_from_chat(served: dict[str, str]) -> tuple[dict[str, Any], str]:
    """A signed plan over HTTP, and the "Review and apply" URL of the Slack message it caused."""
    before = len(requests.get(f"{served['simulator']}/_sim/inbox", timeout=10).json()["messages"])
    body = json.dumps({"mode": "plan", "window": "anytime", "max_errors": 1}).encode()  # one upgrade fails
    headers = {"Content-Type": "application/json", **sign_headers(served["secret"], f"msg_{time.time_ns()}",
                                                                   int(time.time()), body)}  # fmt: skip
    plan = requests.post(f"{served['base']}/runs", data=body, headers=headers, timeout=60).json()
    messages = requests.get(f"{served['simulator']}/_sim/inbox", timeout=10).json()["messages"][before:]
    urls = [
        element["url"]
        for message in messages
        if message.get("kind") == "slack"
        for block in message["body"]["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert len(urls) == 1, messages
    return plan, urls[0]


def upgrade_jobs(served: dict[str, str]) -> dict[str, str]:
    jobs = requests.get(f"{served['simulator']}/_sim/state", timeout=10).json()["jobs"]
    return {job["id"]: job["instance"]["id"] for job in jobs if job["name"] == "UpgradeDbVersion"}


def test_review_apply_and_a_second_press_in_a_real_browser(served: dict[str, str], browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    plan, link = plan_from_chat(served)
    planned = sorted(o["instance_id"] for o in plan["outcomes"] if o["outcome"] == "planned")
    jobs_before = upgrade_jobs(served)
    person, colleague = browser.new_page(), browser.new_page()

    # a person opens the link from the chat message: the plan, styled (the CSP allows our one style), one button
    shown = person.goto(link)
    assert shown is not None and shown.status == 200
    assert person.locator("h1").inner_text() == f"Review and apply: {len(planned)} instance(s) to patch"
    assert person.get_by_role("button", name="Apply this plan").count() == 1
    button_color = person.get_by_role("button").evaluate("b => getComputedStyle(b).backgroundColor")
    assert button_color == "rgb(31, 136, 61)"
    assert plan["plan_id"] in person.content()
    person.screenshot(path=str(SHOTS / "1-plan.png"), full_page=True)
    colleague.goto(link)  # a second reviewer has the same page open
    assert upgrade_jobs(served) == jobs_before  # opening it twice sent nothing

    # the person presses Apply: one upgrade job per planned instance, the result page names the run
    with person.expect_navigation():
        person.get_by_role("button", name="Apply this plan").click()
    assert person.locator("h1").inner_text() == "Plan applied"
    assert re.search(r"Run \S+ applied plan " + plan["plan_id"], person.locator("body").inner_text())
    new_jobs = {job: instance for job, instance in upgrade_jobs(served).items() if job not in jobs_before}
    assert sorted(new_jobs.values()) == planned
    person.screenshot(path=str(SHOTS / "2-applied.png"), full_page=True)

    # the person reloads the result page, resubmitting the form: the plan has changed (its instances are
    # upgrading, and they fill max_in_flight), so a 409 page, and nothing is sent
    resubmitted = person.reload()
    assert resubmitted is not None and resubmitted.status == 409
    assert person.locator("h1").inner_text() == "The plan has changed"
    assert "now there is nothing to apply" in person.locator("body").inner_text()
    assert upgrade_jobs(served).keys() == jobs_before.keys() | new_jobs.keys()
    person.screenshot(path=str(SHOTS / "3-resubmitted.png"), full_page=True)

    # three simulated hours later the upgrades have finished; the colleague presses Apply on the page still open:
    # the plan has changed again (what max_in_flight held back may go now), nothing is sent, and "Plan again"
    # shows the new plan under a new link
    requests.post(f"{served['simulator']}/_sim/clock", json={"advance_seconds": 3 * 3600}, timeout=10)
    with colleague.expect_navigation():
        colleague.get_by_role("button", name="Apply this plan").click()
    assert colleague.locator("h1").inner_text() == "The plan has changed"
    assert upgrade_jobs(served).keys() == jobs_before.keys() | new_jobs.keys()
    colleague.screenshot(path=str(SHOTS / "4-changed.png"), full_page=True)
    with colleague.expect_navigation():
        colleague.get_by_role("link", name="Plan again").click()
    assert colleague.url != link and colleague.url.startswith(f"{served['base']}/approvals/a1.")
    assert colleague.locator("h1").inner_text().startswith("Review and apply: ")
    assert plan["plan_id"] not in colleague.locator("dl").inner_text()
    assert colleague.get_by_role("button", name="Apply this plan").count() == 1
    colleague.screenshot(path=str(SHOTS / "5-new-plan.png"), full_page=True)


def test_a_link_not_signed_here_is_a_plain_not_found_page(served: dict[str, str], browser: Any) -> None:
    page = browser.new_page()
    foreign = "a1.eJyrVkrOz0vOTM1VsqpWKkktLlGyUlAqS8wpTVWqBQB5pQeV.AAAAAAAAAAAAAAAAAAAAAA"  # well-formed, not ours
    shown = page.goto(f"{served['base']}/approvals/{foreign}")
    assert shown is not None and shown.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert shown.headers["content-security-policy"].startswith("default-src 'none'")
    page.screenshot(path=str(SHOTS / "6-not-found.png"), full_page=True)
