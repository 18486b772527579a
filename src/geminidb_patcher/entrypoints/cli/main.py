"""``geminidb-patcher``: parse the arguments, run one command, return its exit code (see the README)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import TextIO

from pydantic import ValidationError

from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.entrypoints.cli.commands import CLI_PREFIXES, Cli, _ask, _cli_message, send_signed
from geminidb_patcher.entrypoints.cli.parser import _lookback, _parser, _request_fields, chosen_targets
from geminidb_patcher.errors import (
    EXIT_ABORTED,
    EXIT_USAGE,
    PatcherError,
    answer_for,
)
from geminidb_patcher.redaction import RedactingStream
from geminidb_patcher.telemetry import redactor


def _sealed(stream: TextIO) -> TextIO:
    """``stream`` with every known secret and secret-shaped text masked: what Huawei or IAM answered (an error, a
    fail reason) may echo a credential, and the terminal shows it."""
    sealed: TextIO = RedactingStream(redactor, lambda: stream)  # type: ignore[assignment]
    return sealed


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    wiring: Wiring | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    confirm: Callable[[str], bool] = _ask,
) -> int:
    """Run one command; the return value is the process exit code (see the README).

    Standard output carries only what was asked for (the table or the JSON); the function's own JSON logs and
    EMF records go to standard error with ``--verbose``, and nowhere otherwise.
    """
    terminal = out or sys.stdout
    out, err = _sealed(terminal), _sealed(err or sys.stderr)
    try:
        with contextlib.redirect_stderr(err):  # usage errors and --help go where the caller reads them
            args = _parser().parse_args(argv)
    except SystemExit as stopped:  # argparse's usage error (2) or --help (0)
        return stopped.code if isinstance(stopped.code, int) else EXIT_USAGE
    logs: TextIO = err if args.verbose else io.StringIO()
    with contextlib.redirect_stdout(logs), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Powertools' "no metrics to publish": not the operator's concern
        return _main(args, environ, wiring, out, err, confirm, terminal)


def _main(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None,
    wiring: Wiring | None,
    out: TextIO,
    err: TextIO,
    confirm: Callable[[str], bool],
    terminal: TextIO,
) -> int:
    try:
        if args.command == "send":
            return send_signed(args, environ if environ is not None else os.environ, out, err)
        if getattr(args, "request", None) == "-" and args.command == "apply" and not args.yes:
            err.write(
                "invalid request: --request - reads the request from standard input, so the confirmation cannot "
                "be asked there; review it with 'plan', then add --yes\n"
            )
            return EXIT_USAGE
        wired = wiring or Wiring.from_environ(environ if environ is not None else os.environ)
        wired.deadline.start(args.timeout)  # every call of the command, status included, fits the budget
        cli = Cli(wired, out=out, err=err, confirm=confirm, timeout=args.timeout, terminal=terminal)
        if args.command == "status":
            return cli.status(chosen_targets(args), _lookback(args.lookback), args.output)
        if args.command == "compliance":
            return cli.compliance(chosen_targets(args), args.window, args.output, args.fail_below)
        fields = _request_fields(args)
        if args.command == "apply" and args.expected_plan_id:
            fields["expected_plan_id"] = args.expected_plan_id
        if getattr(args, "approval_link", False):
            return cli.approval_link(fields, args.output)
        return cli.run_request(fields, args.output, apply=args.command == "apply", yes=getattr(args, "yes", False))
    except KeyboardInterrupt:
        err.write("\ninterrupted: batches already sent stay submitted; 'status' shows their jobs\n")
        return EXIT_ABORTED
    except ValidationError as exc:
        for problem in describe_problems(exc.errors(include_input=False, include_url=False), whole="request"):
            err.write(f"invalid request: {problem['field']}: {problem['message']}\n")
        return EXIT_USAGE
    except PatcherError as exc:
        answer = answer_for(exc)
        err.write(f"{CLI_PREFIXES.get(answer.exit_code, 'error')}: {_cli_message(exc)}\n")
        return answer.exit_code
    except (ValueError, OSError) as exc:  # the request file: unreadable, or not JSON
        err.write(f"invalid request: {exc}\n")
        return EXIT_USAGE
    except RecursionError:
        err.write("invalid request: nested too deeply to be read\n")
        return EXIT_USAGE
