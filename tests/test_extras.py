"""The distributed backends' client libraries are extras: without them the embedded default runs,
and a backend URL names the extra to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from streamrec.config import Settings
from streamrec.errors import ConfigError
from streamrec.extras import EXTRAS
from streamrec.lake.files import LakeFiles
from streamrec.models.storage import open_model_files
from streamrec.stores import open_history_store, open_user_state_store
from streamrec.stream import open_event_log

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ("confluent_kafka", "redis", "psycopg", "s3fs")


def test_the_client_libraries_are_extras_not_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    extras = project["optional-dependencies"]
    for name in ("confluent-kafka", "redis", "psycopg", "s3fs"):
        assert name not in core
    assert set(extras) >= {*EXTRAS, "all"}
    assert extras["all"] == ["streamrec[kafka,redis,postgres,s3]"]


def test_the_embedded_default_runs_without_any_client_library(tmp_path: Path) -> None:
    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in CLIENTS)
    script = (
        f"import sys; {blocked}\n"
        "from pathlib import Path\n"
        "from fastapi.testclient import TestClient\n"
        "from streamrec.api.app import create_app\n"
        "from streamrec.config import Settings\n"
        "from streamrec.runtime import Runtime\n"
        f"runtime = Runtime(Settings(data_dir=Path({str(tmp_path)!r}), tracking_id='t'))\n"
        "with TestClient(create_app(runtime)) as client:\n"
        "    r = client.post('/v1/events', json={'user_id': 'u', 'item_id': 'i'},"
        " headers={'X-Tracking-Id': 't'})\n"
        "    assert r.status_code == 202, r.text\n"
        "runtime.close()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize(
    ("module", "extra", "key", "open_it"),
    [
        ("confluent_kafka", "kafka", "stream_url",
         lambda s: open_event_log(s, "kafka://127.0.0.1:9/t")),
        ("redis", "redis", "history_url",
         lambda s: open_history_store(s, "redis://127.0.0.1:9")),
        ("psycopg", "postgres", "user_state_url",
         lambda s: open_user_state_store(s, "postgresql://127.0.0.1:9/db")),
        ("s3fs", "s3", "lake_url", lambda s: LakeFiles("s3://bucket/lake")),
        ("s3fs", "s3", "model_url", lambda s: open_model_files("s3://bucket/models")),
    ],
)  # fmt: skip
def test_a_backend_without_its_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str, extra: str, key: str, open_it: Any
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ConfigError) as err:
        open_it(Settings(data_dir=tmp_path))
    assert err.value.key == key and f"streamrec[{extra}]" in str(err.value)
