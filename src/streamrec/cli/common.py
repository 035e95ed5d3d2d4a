"""What every command shares: the --config option, loading settings, and error reporting."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import Annotated

import typer

from streamrec.config import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML settings file (else STREAMREC_CONFIG).",
        envvar=None,
        show_default=False,
    ),
]


def settings_from(config: Path | None) -> Settings:
    """The settings of a command; S3 settings become the process's AWS variables (streamrec.s3)."""
    from streamrec.s3 import export_s3_settings

    settings = load_settings(config)
    export_s3_settings(settings)
    return settings


def with_tracking_id(settings: Settings) -> Settings:
    """Use the configured tracking id, else the one stored in data_dir, else make and store one."""
    if settings.tracking_id:
        return settings
    path = Path(settings.data_dir) / "tracking_id"
    if path.exists():
        tracking_id = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tracking_id = secrets.token_urlsafe(18)
        path.write_text(tracking_id + "\n")
    return dataclasses.replace(settings, tracking_id=tracking_id)
