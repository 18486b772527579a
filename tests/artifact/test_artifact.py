"""The built Lambda artifact: only the function and its runtime dependencies, for arm64 / CPython 3.13."""

from __future__ import annotations

import _imp
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

CPYTHON_313_TAG = "cpython-313"
CPYTHON_313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
"""``importlib.util.MAGIC_NUMBER`` of CPython 3.13 (3570 for 3.13 alphas, 3571 for the release)."""
UNCHECKED_HASH = 0b01
"""PEP 552 flags: hash-based (bit 0), without check_source (bit 1)."""

pytestmark = pytest.mark.artifact


def source_hash(source: Path) -> bytes:
    """PEP 552's hash of the source as CPython 3.13 computes it: keyed by 3.13's magic number, not ours."""
    return bytes(_imp.source_hash(int.from_bytes(CPYTHON_313_MAGIC, "little"), source.read_bytes()))


def top_level() -> set[str]:
    return {p.name for p in ARTIFACT.iterdir() if not p.name.endswith(".dist-info")}


def test_the_artifact_holds_the_function_and_its_runtime_dependencies() -> None:
    names = top_level()
    assert names >= RUNTIME, f"missing: {RUNTIME - names}"
    assert not [name for name in names if name.startswith(FORBIDDEN)], names
    assert (ARTIFACT / "geminidb_patcher" / "entrypoints" / "handler.py").is_file()
    assert not (ARTIFACT / "geminidb_patcher" / "handler.py").exists()  # nothing of an earlier layout lingers


def test_no_console_scripts_with_the_build_machines_shebangs_nor_uvs_lock_are_shipped() -> None:
    assert not (ARTIFACT / "bin").exists() and not (ARTIFACT / ".lock").exists()


def test_compiled_wheels_are_for_arm64_and_cpython_313() -> None:
    binaries = [p.name for p in ARTIFACT.rglob("*.so")]
    assert binaries and all("cpython-313-aarch64-linux-gnu" in name or "abi3" in name for name in binaries), binaries


@pytest.mark.skipif(
    bool(os.environ.get("ARTIFACT_WITHOUT_BYTECODE")),
    reason=f"built without bytecode: {os.environ.get('ARTIFACT_WITHOUT_BYTECODE')}",
)
def test_every_module_ships_bytecode_compiled_by_cpython_313_that_matches_its_source() -> None:
    """Unchecked-hash .pyc files of CPython 3.13: a cold start compiles nothing and stats no source."""
    sources = [p for p in ARTIFACT.rglob("*.py") if "__pycache__" not in p.parts]
    assert sources
    missing, stale = [], []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{CPYTHON_313_TAG}.pyc"
        if not compiled.is_file():
            missing.append(source)
            continue
        header = compiled.read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        if header[:4] != CPYTHON_313_MAGIC or flags != UNCHECKED_HASH or header[8:16] != source_hash(source):
            stale.append(source)
    assert not missing and not stale, (missing[:5], stale[:5])


def test_no_tests_caches_or_dev_packages_are_shipped_and_the_size_is_reported() -> None:
    files = [p for p in ARTIFACT.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".pyc" and CPYTHON_313_TAG not in p.name]  # only 3.13 bytecode
    dist_infos = {p.name.split("-")[0].lower() for p in ARTIFACT.glob("*.dist-info")}
    assert not dist_infos & {"boto3", "botocore", "pytest", "hypothesis", "mypy", "mutmut"}
    size = sum(p.stat().st_size for p in files)
    print(f"\nartifact: {len(files)} files, {size / 1_048_576:.1f} MiB unzipped, packages: {sorted(dist_infos)}")
    assert size < 50 * 1_048_576  # well under Lambda's 250 MB unzipped limit
