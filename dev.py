#!/usr/bin/env python3
"""Project commands that need nothing but Python >= 3.11: ``python3 dev.py demo|test|quick|lint|bench|build``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UV_VERSION = "0.13.9"
CFN_LINT = "cfn-lint==1.58.0"
SAM_TRANSLATOR = "aws-sam-translator==1.115.0"
SAM_CLI = "aws-sam-cli==1.170.0"
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


def _python313() -> str | None:
    """A CPython 3.13 (Lambda's runtime) to compile the artifact's bytecode: on PATH, in pyenv, or found by uv."""
    candidates = [shutil.which("python3.13")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
        for version in sorted(v for v in versions.split() if v.startswith("3.13"))[::-1]:
            prefix = subprocess.run([pyenv, "prefix", version], capture_output=True, text=True, check=False)
            candidates.append(str(Path(prefix.stdout.strip()) / "bin" / "python3.13"))
    found = subprocess.run([*_uv(), "python", "find", "3.13"], capture_output=True, text=True, check=False)
    candidates.append(found.stdout.strip() if found.returncode == 0 else None)
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"]
        if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
            return candidate
    return None


REQUIREMENTS_EXPORT = "uv export --frozen --no-dev --no-emit-project --no-hashes -o src/requirements.txt"


def _pins(text: str) -> set[str]:
    """The ``name==version`` lines of a requirements file."""
    return {line.split(";")[0].strip() for line in text.splitlines() if "==" in line and not line.startswith("#")}


def _run(*args: str) -> None:
    print("+", " ".join(args[1:] if args[0].endswith("uv") else args), flush=True)
    subprocess.run(list(args), cwd=ROOT, check=True)


def _sync(uv: list[str]) -> None:
    _run(*uv, "sync", "--frozen", "--python", sys.executable)


ARTIFACT_LEFTOVERS = ("bin", ".lock")
"""What ``uv pip install --target`` adds that the function never uses: console scripts carrying this machine's
interpreter path in their shebangs, and uv's lock file."""


def build_artifact(uv: list[str], target: Path) -> int:
    """The Lambda artifact in ``target``, as ``sam build`` makes it: the package and its pinned runtime wheels for
    arm64 / CPython 3.13, with bytecode compiled by a CPython 3.13 where this machine has one (said when not)."""
    target.mkdir(parents=True, exist_ok=True)
    _run(
        *uv, "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
        "--python-platform", "aarch64-manylinux2014", "--python-version", "3.13",
        "--target", str(target), "-r", str(ROOT / "src" / "requirements.txt"),
    )  # fmt: skip
    for leftover in ARTIFACT_LEFTOVERS:
        path = target / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.rmtree(target / "geminidb_patcher", ignore_errors=True)  # a module moved or removed must not linger
    shutil.copytree(ROOT / "src" / "geminidb_patcher", target / "geminidb_patcher")
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache)
    python313 = _python313()
    if python313 is None:  # the quick start needs only Python >= 3.11; Lambda's runtime is 3.13
        print("no CPython 3.13 found: the artifact is built without bytecode (Lambda compiles at cold start)")
        return 0
    _run(python313, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(target))
    print(f"bytecode compiled by {python313}")
    return 0


def main(argv: list[str]) -> int:
    """Run one command."""
    commands = ("demo", "test", "quick", "lint", "bench", "build")
    if len(argv) < 1 or argv[0] not in commands:
        print(f"usage: python3 dev.py {{{'|'.join(commands)}}} [args...]", file=sys.stderr)
        return 2
    uv = _uv()
    command, extra = argv[0], argv[1:]
    if command == "build":  # what sam build runs (the Makefile's target): needs no environment of the project's
        return build_artifact(uv, Path(extra[0]) if extra else ARTIFACT)
    _sync(uv)
    try:
        if command == "demo":
            _run(*uv, "run", "--frozen", "--no-sync", "python", "-m", "geminidb_local", "demo", *extra)
        elif command == "quick":  # the developer's loop: everything but the slow campaigns and the artifact,
            workers = () if "-n" in extra else ("-n", "auto")  # spread over the machine's cores (pytest-xdist)
            quick = ("-q", "-m", "not slow and not artifact", *workers)
            _run(*uv, "run", "--frozen", "--no-sync", "pytest", *quick, *extra)
        elif command == "bench":  # the cold-start benchmark builds artifact twins with this uv and CPython 3.13
            os.environ["BENCH_UV"], os.environ["BENCH_PYTHON313"] = uv[0], _python313() or ""
            _run(*uv, "run", "--frozen", "--no-sync", "python", "-m", "tests.benchmarks.run", *extra)
        elif command == "test":
            _run(*uv, "run", "--frozen", "--no-sync", "pytest", *extra)
            if not extra:  # the whole suite: also build the Lambda artifact as sam build does, and inspect it
                shutil.rmtree(ARTIFACT, ignore_errors=True)
                ARTIFACT.mkdir(parents=True)
                python313 = _python313()
                if python313 is None:
                    os.environ["ARTIFACT_WITHOUT_BYTECODE"] = "no CPython 3.13 on this machine"
                _run("make", "--no-print-directory", "build-ScheduledFunction", f"ARTIFACTS_DIR={ARTIFACT}")
                # the runtime-client test builds a host twin with this uv, for CPython 3.13 where there is one
                os.environ["ARTIFACT_UV"], os.environ["ARTIFACT_PY313"] = uv[0], python313 or ""
                _run(*uv, "run", "--frozen", "--no-sync", "pytest", "-m", "artifact", "tests/artifact")
                files = [path for path in ARTIFACT.rglob("*") if path.is_file()]
                size = sum(path.stat().st_size for path in files)
                print(f"artifact: {len(files)} files, {size / 1_048_576:.1f} MiB unzipped, in {ARTIFACT}", flush=True)
        else:
            _run(*uv, "lock", "--check")  # uv.lock agrees with pyproject.toml
            exported = subprocess.run(
                [*uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--quiet"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            pinned = (ROOT / "src" / "requirements.txt").read_text(encoding="utf-8")
            if _pins(exported) != _pins(pinned):
                print("src/requirements.txt disagrees with uv.lock: run", REQUIREMENTS_EXPORT, file=sys.stderr)
                return 1
            _run(*uv, "run", "--frozen", "--no-sync", "ruff", "check", "src", "tests", "dev.py")
            _run(*uv, "run", "--frozen", "--no-sync", "ruff", "format", "--check", "src", "tests", "dev.py")
            _run(*uv, "run", "--frozen", "--no-sync", "mypy")
            _run(*uv, "tool", "run", "--from", CFN_LINT, "cfn-lint", "--include-checks", "I", "--", "template.yaml")
            _run(*uv, "tool", "run", "--from", SAM_TRANSLATOR, "--with", "pyyaml", "python", "tools/sam_transform.py")
            os.environ["SAM_CLI_TELEMETRY"] = "0"
            sam = [*uv, "tool", "run", "--from", SAM_CLI, "sam"]
            _run(*sam, "validate", "--lint", "--region", "ap-southeast-1")
            with tempfile.TemporaryDirectory() as build_dir:  # the README's sam build, as a user runs it (no Docker)
                _run(*sam, "build", "--region", "ap-southeast-1", "--build-dir", build_dir)
    except subprocess.CalledProcessError as failed:
        return failed.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
