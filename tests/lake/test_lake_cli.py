"""``streamrec lake`` commands against a lake written by the tests."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from streamrec.cli.lake import register
from streamrec.config import Settings
from streamrec.lake import LakeWriter
from streamrec.stream.base import StreamRecord
from tests.factories import random_events


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Root."""

    register(app)
    return app


def test_query_erase_compact_stats(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "streamrec.toml"
    config.write_text(f'data_dir = "{data}"\n')
    events = random_events(200, users=4)
    writer = LakeWriter(Settings(data_dir=data).lake_location, 1 << 40, 3600.0)
    for start in range(0, 200, 50):
        writer.add([StreamRecord(0, i, e) for i, e in enumerate(events) if start <= i < start + 50])
        writer.flush()
    app, cli = make_app(), CliRunner()

    result = cli.invoke(
        app, ["lake", "query", "SELECT count(*) AS n FROM events", "-c", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "200" in result.output

    victim = events[0].user_id
    erased = sum(e.user_id == victim for e in events)
    result = cli.invoke(app, ["lake", "erase", victim, "--config", str(config)])
    assert f"erased {erased} rows" in result.output

    result = cli.invoke(app, ["lake", "compact", "--config", str(config)])
    assert "files 4 -> 1" in result.output

    result = cli.invoke(app, ["lake", "stats", "--config", str(config)])
    assert f"files 1, rows {200 - erased}" in result.output
