#!/usr/bin/env python3
"""Project commands that need nothing but Python >= 3.11: ``python3 dev.py demo|test|quick|lint|bench``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UV_VERSION = "0.13.9"
CFN_LINT = "cfn-lint==1.58.0"
SAM_TRANSLATOR = "aws-sam-translator==1.115.0"
ARTIFACT = ROOT / ".build" / "artifact"


def _uv() -> list[str]:
    """``uv`` from PATH, or a private copy installed from PyPI into ``.tools/``."""
    found = shutil.which("uv")
    if found:
        return [found]
    tools = ROOT / ".tools"
    binary = tools / ("Scripts" if os.name == "nt" else "bin")
    exe = binary / ("uv.exe" if os.name == "nt" else "uv")
    if not exe.exists():
        venv.create(tools, with_pip=True)
        subprocess.run([str(binary / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    return [str(exe)]


def _run(*args: str) -> None:
    print("+", " ".join(args[1:] if args[0].endswith("uv") else args), flush=True)
    subprocess.run(list(args), cwd=ROOT, check=True)


def _sync(uv: list[str]) -> None:
    _run(*uv, "sync", "--frozen", "--python", sys.executable)


def main(argv: list[str]) -> int:
    """Run one command."""
    commands = ("demo", "test", "quick", "lint", "bench")
    if len(argv) < 1 or argv[0] not in commands:
        print(f"usage: python3 dev.py {{{'|'.join(commands)}}} [args...]", file=sys.stderr)
        return 2
    uv = _uv()
    _sync(uv)
    command, extra = argv[0], argv[1:]
    try:
        if command == "demo":
            _run(*uv, "run", "--frozen", "--no-sync", "python", "-m", "geminidb_local", "demo", *extra)
        elif command == "quick":  # the developer's loop: everything but the slow campaigns and the artifact
            _run(*uv, "run", "--frozen", "--no-sync", "pytest", "-q", "-m", "not slow and not artifact", *extra)
        elif command == "bench":
            _run(*uv, "run", "--frozen", "--no-sync", "python", "-m", "tests.benchmarks.run", *extra)
        elif command == "test":
            _run(*uv, "run", "--frozen", "--no-sync", "pytest", *extra)
            if not extra:  # the whole suite: also build the Lambda artifact as sam build does, and inspect it
                shutil.rmtree(ARTIFACT, ignore_errors=True)
                ARTIFACT.mkdir(parents=True)
                _run(
                    "make",
                    "--no-print-directory",
                    "build-ScheduledFunction",
                    f"ARTIFACTS_DIR={ARTIFACT}",
                    f"UV={uv[0]}",
                )
                _run(*uv, "run", "--frozen", "--no-sync", "pytest", "-m", "artifact", "tests/artifact")
                files = [path for path in ARTIFACT.rglob("*") if path.is_file()]
                size = sum(path.stat().st_size for path in files)
                print(f"artifact: {len(files)} files, {size / 1_048_576:.1f} MiB unzipped, in {ARTIFACT}", flush=True)
        else:
            _run(*uv, "run", "--frozen", "--no-sync", "ruff", "check", "src", "tests", "dev.py")
            _run(*uv, "run", "--frozen", "--no-sync", "ruff", "format", "--check", "src", "tests", "dev.py")
            _run(*uv, "run", "--frozen", "--no-sync", "mypy")
            _run(*uv, "tool", "run", "--from", CFN_LINT, "cfn-lint", "template.yaml")
            _run(*uv, "tool", "run", "--from", SAM_TRANSLATOR, "--with", "pyyaml", "python", "tools/sam_transform.py")
    except subprocess.CalledProcessError as failed:
        return failed.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
