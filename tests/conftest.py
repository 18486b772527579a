"""Fixtures every tier shares: events, a Lambda context, fleets."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import pytest

from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator.fleet import DEMO_SK
from geminidb_patcher import telemetry
from geminidb_patcher.contract.secret_values import SecretValues
from geminidb_patcher.redaction import RedactingStream


@pytest.fixture
def lambda_context() -> LocalContext:
    """A context with a 60 s deadline."""
    return LocalContext(timeout_ms=60_000)


# -- the suite-wide secret-leak check ----------------------------------------------------------------------
# Everything the function writes (JSON logs, EMF, reports) is teed here, whatever a test does with stdout, and
# so is every test's captured stdout/stderr/log. It must never contain a configured secret value: the shapes
# of generated secrets and tokens, the fixed secrets the tests use, and every value any test configured.

_SECRET_SHAPES = re.compile(
    r"whsec_[A-Za-z0-9+/]{30,}={0,2}"  # webhook secrets as the tests generate them
    r"|\bMII[A-Za-z0-9_-]{40,}"  # IAM tokens issued by the simulator
    r"|Signature=[0-9a-f]{64}"  # AK/SK request signatures
    r"|\bSEC[0-9a-f]{64}\b"  # DingTalk signing secrets
)
_FIXED_SECRETS = {DEMO_SK, "campaign-password-1", "feishu-signing-secret-0001", "dingtoken", "wecomkey", "teamskey"}
_configured: set[str] = set()
_leaks: list[str] = []
_scanned = [0, 0]  # chunks, characters
_configured_digests: set[str] = set()  # SHA-256 of the values configured here and in any xdist worker


def _remember_configured(values: Mapping[str, object]) -> None:
    for name, value in values.items():
        if (
            isinstance(value, str)
            and len(value) >= 8
            and not value.startswith("http")  # keyed URLs: their keys are in _FIXED_SECRETS
            and any(word in name for word in ("SK", "SECRET", "PASSWORD", "TOKEN"))
            and not name.startswith("AWS_")
        ):
            _configured.add(value)


def _scan(text: str, where: str) -> None:
    _scanned[0] += 1
    _scanned[1] += len(text)
    found = _SECRET_SHAPES.search(text)
    leaked = found.group(0) if found else next((s for s in _FIXED_SECRETS | _configured if s in text), None)
    if leaked:
        _leaks.append(f"{where}: …{leaked[:6]}…")


def pytest_configure(config: pytest.Config) -> None:
    """Tee the function's output stream and record every secret value the tests configure."""
    _config.append(config)
    stream = telemetry.logger.registered_handler.stream
    assert isinstance(stream, RedactingStream)
    target = stream._target  # what the log lines are written to, after redaction

    class Teed:
        def write(self, text: str) -> int:
            _scan(text, "function output")
            return target().write(text)

        def flush(self) -> None:
            target().flush()

    teed = Teed()
    stream._target = lambda: teed  # type: ignore[method-assign]
    original_from_mapping = SecretValues.from_mapping.__func__  # type: ignore[attr-defined]

    def recording(cls: type[SecretValues], values: Mapping[str, object]) -> SecretValues:
        _remember_configured(values)
        return original_from_mapping(cls, values)  # type: ignore[no-any-return]

    SecretValues.from_mapping = classmethod(recording)  # type: ignore[method-assign, assignment]


_config: list[pytest.Config] = []


def _leads_workers(config: pytest.Config) -> bool:
    """Whether this process hands the tests to pytest-xdist workers (which then scan for themselves)."""
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Scan what pytest captured for each test phase (in the process that ran the test)."""
    if _config and _leads_workers(_config[0]):
        return
    for name, text in report.sections:
        if name.startswith("Captured"):
            _scan(text, f"{report.nodeid} ({name})")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Add a pytest-xdist worker's figures and leaks to this session's."""
    found = getattr(node, "workeroutput", {}).get("secret_leak_check")
    if found:
        _scanned[0] += found["chunks"]
        _scanned[1] += found["characters"]
        _configured_digests.update(found["configured"])
        _leaks.extend(found["leaks"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Report the figures; any leak fails the session (a worker hands them to the session that leads it)."""
    _configured_digests.update(hashlib.sha256(value.encode()).hexdigest() for value in _configured)
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["secret_leak_check"] = {
            "chunks": _scanned[0],
            "characters": _scanned[1],
            "configured": sorted(_configured_digests),
            "leaks": _leaks,
        }
        return
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    summary = (
        f"secret-leak check: {_scanned[0]} output chunks ({_scanned[1]:,} characters) scanned against "
        f"{len(_configured_digests) + len(_FIXED_SECRETS)} configured secret values and 4 secret shapes: "
        f"{len(_leaks)} leaks"
    )
    if terminal is not None:
        terminal.write_line(summary)
        for leak in _leaks[:20]:
            terminal.write_line(f"  LEAK {leak}")
    if _leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
