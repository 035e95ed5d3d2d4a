"""The process table: what the supervisor started, written to a JSON file that API workers read
for ``/v1/status``. The supervisor rewrites it (atomically) whenever a child starts or exits;
readers check each pid is still the process that was started (pid and start time), so a table
left behind by a killed supervisor shows its processes as not alive rather than lying."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamrec.cluster.pids import process_start_ticks

__all__ = ["ProcessRecord", "ProcessTable"]


@dataclasses.dataclass
class ProcessRecord:
    """One supervised child: ``pid`` is None while it is down (between a death and its restart)."""

    name: str
    role: str
    pid: int | None = None
    start_ticks: int | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit_code: int | None = None


def _alive(pid: int | None, start_ticks: int | None) -> bool:
    return pid is not None and start_ticks is not None and process_start_ticks(pid) == start_ticks


class ProcessTable:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self, records: Sequence[ProcessRecord], supervisor_started_at: float) -> None:
        pid = os.getpid()
        body = {
            "supervisor": {
                "pid": pid,
                "start_ticks": process_start_ticks(pid),
                "started_at": supervisor_started_at,
            },
            "processes": [dataclasses.asdict(r) for r in records],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{pid}")
        partial.write_text(json.dumps(body) + "\n")
        partial.replace(self.path)

    def read(self) -> dict[str, Any] | None:
        """The table as ``/v1/status`` shows it (``alive`` per process), None when absent."""
        try:
            body = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        now = time.time()
        sup = body["supervisor"]
        processes = []
        for raw in body["processes"]:
            record = ProcessRecord(**raw)
            alive = _alive(record.pid, record.start_ticks)
            started = record.started_at
            processes.append(
                {
                    "name": record.name,
                    "role": record.role,
                    "pid": record.pid,
                    "alive": alive,
                    "uptime_s": round(now - started, 3) if alive and started else None,
                    "restarts": record.restarts,
                    "last_exit_code": record.last_exit_code,
                }
            )
        return {
            "supervisor": {"pid": sup["pid"], "alive": _alive(sup["pid"], sup["start_ticks"])},
            "processes": processes,
        }
