"""`sam build --cached` into .aws-sam/sam-local, skipped while the sources' digest is unchanged."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from local_runtime import template
from local_runtime.sam_local.sam_cli import (
    BUILD_DIR,
    BUILD_LOG,
    BUILT_TEMPLATE,
    CACHE_DIR,
    ROOT,
    WORK_DIR,
    Progress,
    SamLocalError,
    last_lines,
    sam_environment,
    sam_executable,
    shown_path,
)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One `sam build` at a time into .aws-sam/sam-local (make sam-api and the tests may overlap)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with (WORK_DIR / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


BUILD_INPUTS = ("template.yaml", "samconfig.toml", "functions", "layers")
BUILD_STAMP = WORK_DIR / "build.stamp"


def sources_digest() -> str:
    """A digest of everything `sam build` reads: the template, samconfig.toml, every file under
    functions/ and layers/ (bytecode aside) and SAM CLI's version."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"samcli {version('aws-sam-cli')}\n".encode())
    for name in BUILD_INPUTS:
        path = ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(f"{file.relative_to(ROOT)}\0{file.stat().st_mode & 0o111}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def build(progress: Progress = print) -> Path:
    """`sam build --cached` into .aws-sam/sam-local/build; the built template's path.

    Skipped when the sources' digest is the one of the last successful build here. Otherwise SAM's
    cache (a checksum of each function's and layer's folder and requirements) rebuilds whatever
    changed, and the built template is always rewritten from template.yaml."""
    with _build_lock():
        digest = sources_digest()
        with contextlib.suppress(OSError):
            if BUILT_TEMPLATE.is_file() and BUILD_STAMP.read_text().strip() == digest:
                progress(f"build in {shown_path(BUILD_DIR)} is up to date (sources unchanged)")
                return BUILT_TEMPLATE
        BUILD_STAMP.unlink(missing_ok=True)
        built = _sam_build(progress)
        BUILD_STAMP.write_text(digest + "\n")
        return built


def _sam_build(progress: Progress, template_file: Path = template.TEMPLATE) -> Path:
    command = [
        sam_executable(),
        "build",
        "--cached",
        "--parallel",
        "--template-file",
        str(template_file),
        "--build-dir",
        str(BUILD_DIR),
        "--cache-dir",
        str(CACHE_DIR),
    ]
    started = time.monotonic()
    progress(f"sam build --cached into {shown_path(BUILD_DIR)} (log: {shown_path(BUILD_LOG)})")
    with BUILD_LOG.open("w") as log:
        result = subprocess.run(
            command,
            cwd=ROOT,
            env=sam_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0 or not BUILT_TEMPLATE.exists():
        output = BUILD_LOG.read_text(errors="replace").splitlines()
        errors = [line for line in output if line.strip().startswith(("Error", "ERROR")) or "Error:" in line]
        reason = last_lines(errors or output)
        raise SamLocalError(f"sam build failed: {reason} (full log: {shown_path(BUILD_LOG)})")
    progress(f"built in {time.monotonic() - started:.1f}s")
    return BUILT_TEMPLATE
