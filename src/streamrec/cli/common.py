"""What every command shares: the --config option, loading settings, and error reporting."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from streamrec.config import Settings, load_settings
from streamrec.errors import ValidationError
from streamrec.events import MAX_ID_LENGTH

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


def input_file(path: Path, option: str) -> Path:
    """``path`` when it is a readable UTF-8 text file, else a ValidationError naming ``option``
    (before any work, so a typo costs nothing)."""
    from streamrec.textfiles import require_utf8

    if not path.exists():
        raise ValidationError(option, f"{path} does not exist")
    if path.is_dir():
        raise ValidationError(option, f"{path} is a directory, not a file")
    try:
        require_utf8(path, option)
    except OSError as exc:
        raise ValidationError(option, f"cannot read {path}: {exc.strerror or exc}") from exc
    return path


def output_file(path: Path, option: str) -> Path:
    """``path`` when a file can be written there: not a directory, in a directory that exists
    (never created here: a mistyped path must not leave directories behind) and is writable;
    else a ValidationError naming ``option``."""
    if path.is_dir():
        raise ValidationError(option, f"{path} is a directory, not a file")
    parent = path.parent
    if not parent.exists():
        raise ValidationError(option, f"the directory {parent} does not exist")
    if not parent.is_dir():
        raise ValidationError(option, f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValidationError(option, f"cannot write {path}: permission denied")
    return path


def identifier(value: str, name: str) -> str:
    """``value`` when the API would take it as a user or item id: 1-MAX_ID_LENGTH characters
    of any kind (spaces included, as events take them, so every stored user can be named);
    else a ValidationError naming ``name``. An empty id would match the records that store no
    id, e.g. the attribution records of similar-item calls."""
    if not value:
        raise ValidationError(name, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(name, f"must be 1-{MAX_ID_LENGTH} characters, got {len(value)}")
    return value


def exit_if_every_row_rejected(accepted: int, rejected: int) -> None:
    """Exit status 1 (after the command has printed its summary) when a file's rows were all
    rejected: nothing was imported. ``import`` and ``import-items`` share this rule."""
    if accepted == 0 and rejected:
        raise typer.Exit(1)
