"""One tree of the function's errors, and one table of what each kind means to a caller.

Every error the function raises on purpose is a ``PatcherError``. Its kind (the first of the classes in
``ANSWERS`` on its MRO) decides the webhook's HTTP status and error code and the CLI's exit code, so the
entry points translate errors in one place each. This module imports nothing of the project: every layer
may raise and catch these.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PatcherError(Exception):
    """Root of every error the function raises on purpose."""

    def details(self) -> dict[str, Any]:
        """Extra fields for the webhook's error body (never a secret)."""
        return {}


class InvalidRequestError(PatcherError, ValueError):
    """The request cannot be run as given; nothing was done."""


class InvalidRunRequestError(InvalidRequestError):
    """A scheduled or direct event is not a valid ``RunRequest``."""


class RequestLimitError(InvalidRequestError):
    """A valid request that exceeds this deployment's limits; ``problems`` as ``{field, rule, message}``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems

    def details(self) -> dict[str, Any]:
        """The problems, field by field."""
        return {"problems": self.problems}


class ConfigurationError(PatcherError):
    """The deployment's settings, secrets or credentials are missing or wrong; the message names the variable."""


class ConfigError(ConfigurationError, ValueError):
    """An environment variable has a value the function cannot use."""


class NoTargetError(ConfigurationError):
    """Neither the request nor the configuration names a target."""


class PlanChangedError(PatcherError):
    """``expected_plan_id`` no longer matches what would be submitted; nothing was submitted."""

    def __init__(self, expected: str, actual: str | None) -> None:
        super().__init__(f"the plan changed since it was reviewed: expected {expected}, now {actual}")
        self.expected = expected
        self.actual = actual

    def details(self) -> dict[str, Any]:
        """Both plan ids."""
        return {"expected_plan_id": self.expected, "plan_id": self.actual}


class NotificationsFailedError(PatcherError):
    """The run finished, but every configured channel failed and that is configured to fail the run."""

    def __init__(self, report: Any, failed: list[str]) -> None:
        super().__init__(f"every notification channel failed: {', '.join(failed)}")
        self.report = report

    def details(self) -> dict[str, Any]:
        """The run's report, which no channel delivered."""
        answer: dict[str, Any] = self.report.as_answer()
        return {"report": answer}


class UnauthorizedError(PatcherError):
    """A webhook request failed authentication; ``reason`` is for logs, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UpstreamError(PatcherError):
    """A call to Huawei Cloud or a notification channel failed.

    ``may_have_arrived`` tells whether a request that changes something could have taken effect anyway (it was
    sent, and no answer proves it was refused): such a request is never sent again, only re-observed.
    """

    may_have_arrived: bool = False
    error_code: str | None = None
    message: str = ""
    missing_permission: str | None = None
    """When the service refused for lack of a permission: the IAM action(s) to grant, in words."""


class DiscoveryError(UpstreamError):
    """``targets: "all"`` could not list the account's projects; nothing was read or sent. The message is the
    upstream's, scrubbed: this error ends the invocation, so it reaches the caller as it is."""

    def __init__(self, message: str, error_code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


class InternalError(UpstreamError):
    """An exception no adapter translated, caught where one target is observed or one batch is sent.

    It becomes that target's or batch's error, so the run still reports and notifies. A batch that met one may
    have been sent, so it is re-observed, never resent.
    """

    may_have_arrived = True
    error_code = "InternalError"

    def __init__(self, stage: str, cause: BaseException) -> None:
        frames = traceback.extract_tb(cause.__traceback__)
        where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
        self.message = f"unexpected {type(cause).__name__} while {stage}{where}"  # never the cause's text
        super().__init__(self.message)


@dataclass(frozen=True)
class Answer:
    """What one kind of error means to the webhook caller and to a person at the CLI."""

    http_status: int
    code: str
    message: str
    exit_code: int


EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_PLAN_CHANGED = 3
EXIT_ABORTED = 4
EXIT_CONFIG = 5
EXIT_BUSY = 6
"""Another run held a target's apply lease: nothing was sent there; run again later (nothing else went wrong)."""

ANSWERS: dict[type[PatcherError], Answer] = {
    UnauthorizedError: Answer(
        401, "unauthorized", "The request is not signed with a valid webhook signature.", EXIT_USAGE
    ),
    RequestLimitError: Answer(422, "invalid_request", "The request exceeds this deployment's limits.", EXIT_USAGE),
    InvalidRequestError: Answer(422, "invalid_request", "The request is not a valid RunRequest.", EXIT_USAGE),
    NoTargetError: Answer(422, "no_target", "No target: give targets, or configure a default target.", EXIT_CONFIG),
    ConfigurationError: Answer(500, "configuration", "The function is not configured correctly.", EXIT_CONFIG),
    PlanChangedError: Answer(
        409,
        "plan_changed",
        "The fleet changed since the plan was made; nothing was submitted. Plan again and review.",
        EXIT_PLAN_CHANGED,
    ),
    NotificationsFailedError: Answer(
        502, "notifications_failed", "The run finished but no notification channel accepted its report.", EXIT_PROBLEMS
    ),
    UpstreamError: Answer(502, "upstream_failed", "A call to Huawei Cloud failed.", EXIT_PROBLEMS),
    PatcherError: Answer(500, "internal", "The run failed.", EXIT_PROBLEMS),
}
"""The one table: the first class on an error's MRO that is a key decides its answer."""


def answer_for(error: PatcherError) -> Answer:
    """The answer for ``error``'s kind."""
    for kind in type(error).__mro__:
        if kind in ANSWERS:
            return ANSWERS[kind]
    return ANSWERS[PatcherError]
