"""What the finance commands share: the ``--config`` option, the config and the
app database a command opens from them, and a ``VerticalsError`` as one line and exit 1.

The commands that read a config take ``--config`` (default: ``$VERTICALS_FINANCE_CONFIG`` or
``<home>/finance/sources.toml``, which ``demo`` writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shared import VerticalsError
from shared.output import say_error

if TYPE_CHECKING:  # the modules load lazily, so `--help` stays fast
    from sqlalchemy import Engine

    from .config import MonitorConfig

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Sources TOML file.")]


def config_path(path: Path | None = None) -> Path:
    """The config file to use (see module docstring)."""
    from .config import default_config_path

    return path if path is not None else default_config_path()


def config_for(path: Path | None, needs_config: bool = True) -> MonitorConfig:
    """The config at ``path``; commands that only read or write the database
    (``needs_config=False``) also run without one, with the defaults."""
    from .config import MonitorConfig, load_config

    found = config_path(path)
    if not needs_config and path is None and not found.exists():
        return MonitorConfig()
    return load_config(found)


def engine_for(path: Path | None) -> Engine:
    """The app database alone, for commands that need no fetcher, webhooks or models (a
    config they are given must still be valid)."""
    from shared import create_tables, make_engine

    from .store import Base

    config_for(path, needs_config=False)
    engine = make_engine()
    create_tables(Base.metadata, engine)
    return engine


def fail(exc: VerticalsError) -> None:
    """End the command on a user error: one ``error:`` line (see ``shared.output.say_error``), exit 1."""
    say_error(exc)
    raise typer.Exit(1)
