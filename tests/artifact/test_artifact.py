"""The built Lambda artifact: only the function and its runtime dependencies, for arm64 / CPython 3.13."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ARTIFACT = Path(os.environ.get("ARTIFACT_DIR", Path(__file__).resolve().parents[2] / ".build" / "artifact"))
RUNTIME = {"geminidb_patcher", "aws_lambda_powertools", "pydantic", "pydantic_core", "requests", "tzdata"}
FORBIDDEN = (
    "geminidb_local",
    "tests",
    "boto3",
    "botocore",
    "pytest",
    "hypothesis",
    "mypy",
    "ruff",
    "mutmut",
    "huaweicloudsdkcore",
)

pytestmark = pytest.mark.artifact


def top_level() -> set[str]:
    return {p.name for p in ARTIFACT.iterdir() if not p.name.endswith(".dist-info")}


def test_the_artifact_holds_the_function_and_its_runtime_dependencies() -> None:
    names = top_level()
    assert names >= RUNTIME, f"missing: {RUNTIME - names}"
    assert not [name for name in names if name.startswith(FORBIDDEN)], names
    assert (ARTIFACT / "geminidb_patcher" / "handler.py").is_file()


def test_compiled_wheels_are_for_arm64_and_cpython_313() -> None:
    binaries = [p.name for p in ARTIFACT.rglob("*.so")]
    assert binaries and all("cpython-313-aarch64-linux-gnu" in name or "abi3" in name for name in binaries), binaries


def test_no_tests_caches_or_dev_packages_are_shipped_and_the_size_is_reported() -> None:
    files = [p for p in ARTIFACT.rglob("*") if p.is_file()]
    assert not [p for p in files if "__pycache__" in p.parts or p.suffix == ".pyc"]
    dist_infos = {p.name.split("-")[0].lower() for p in ARTIFACT.glob("*.dist-info")}
    assert not dist_infos & {"boto3", "botocore", "pytest", "hypothesis", "mypy", "mutmut"}
    size = sum(p.stat().st_size for p in files)
    print(f"\nartifact: {len(files)} files, {size / 1_048_576:.1f} MiB unzipped, packages: {sorted(dist_infos)}")
    assert size < 50 * 1_048_576  # well under Lambda's 250 MB unzipped limit
