"""Running the streamrec command in tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "STREAMREC_DATA_DIR": str(data_dir), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "streamrec.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"streamrec {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result
