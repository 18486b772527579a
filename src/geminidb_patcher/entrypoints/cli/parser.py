"""The CLI's arguments: the parser and the converters that turn flags into a RunRequest's fields."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from geminidb_patcher import __version__
from geminidb_patcher.contract.request import MAX_JOB_HISTORY

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
        command.add_argument(
            "--all-projects",
            action="store_true",
            help="every region project (and sub-project) the credentials reach, as IAM lists them",
        )
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
        command.add_argument(
            "--backup-within",
            metavar="DURATION",
            help="patch only instances whose last completed full backup ended this recently (e.g. PT24H)",
        )
        command.add_argument(
            "--create-backup",
            action="store_true",
            help="with --backup-within: an apply starts a manual backup where one is missing (patched on a later run)",
        )
        command.add_argument("--output", choices=("table", "json"), default="table")
        if name == "plan":
            command.add_argument(
                "--approval-link",
                action="store_true",
                help="print a link to review and apply exactly this plan (needs WEBHOOK_API_URL and APPROVAL_SECRET)",
            )
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
        "--all-projects",
        action="store_true",
        help="every region project (and sub-project) the credentials reach, as IAM lists them",
    )
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
    status.add_argument(
        "--all-projects",
        action="store_true",
        help="every region project (and sub-project) the credentials reach, as IAM lists them",
    )
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


def chosen_targets(args: argparse.Namespace) -> list[str] | Literal["all"] | None:
    """``--target`` values, or ``"all"`` for ``--all-projects``; ``ValueError`` when both are given."""
    if args.target and args.all_projects:
        raise ValueError("give --target or --all-projects, not both")
    return "all" if args.all_projects else args.target


def _request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request file (if any), overridden by the flags that were given."""
    fields: dict[str, Any] = {}
    if args.request:
        loaded = _request_file(args.request)
        if not isinstance(loaded, dict):
            raise ValueError("the request file must hold a JSON object")
        fields.update(loaded)
    chosen = chosen_targets(args)
    if chosen:
        fields["targets"] = "all" if chosen == "all" else _targets(chosen)
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
    if args.create_backup and not args.backup_within and not fields.get("backup"):
        raise ValueError("--create-backup needs --backup-within (how recent a backup must be)")
    if args.backup_within:
        fields["backup"] = {**dict(fields.get("backup") or {}), "within": args.backup_within}
    if args.create_backup:
        fields["backup"] = {**dict(fields.get("backup") or {}), "create": True}
    return fields
