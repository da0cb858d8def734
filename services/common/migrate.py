"""Schema migrations: Alembic, one branch per service, applied with ``upgrade heads``.

The migration environment lives in ``hoso/common/alembic``; each service keeps its revisions
in ``hoso/<service>/migrations`` (branch label = service name, first revision depends on the
``common`` branch). Revision files are named by date.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from hoso.common.config import SERVICE_NAMES
from hoso.common.db import Base, sync_url
from sqlalchemy import MetaData, create_engine

__all__ = ["alembic_config", "current_heads", "import_models", "metadata", "revision", "upgrade"]

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def import_models() -> None:
    """Import every service's models so they register on the shared metadata."""
    importlib.import_module("hoso.common.audit")
    for service in SERVICE_NAMES:
        if (_PACKAGE_ROOT / service / "models.py").exists():
            importlib.import_module(f"hoso.{service}.models")


def metadata() -> MetaData:
    """The metadata of every model, as the migrations should produce it."""
    import_models()
    return Base.metadata


def _version_locations() -> list[str]:
    locations = [str(_PACKAGE_ROOT / "common" / "migrations")]
    for service in SERVICE_NAMES:
        folder = _PACKAGE_ROOT / service / "migrations"
        if folder.is_dir():
            locations.append(str(folder))
    return locations


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(_PACKAGE_ROOT / "common" / "alembic"))
    config.set_main_option("version_locations", " ".join(_version_locations()))
    config.set_main_option("path_separator", "space")
    config.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every pending revision of every branch (blocking; run it in a thread)."""
    command.upgrade(alembic_config(url), "heads")


def current_heads(url: str) -> set[str]:
    """The revisions the database is at."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def revision(url: str, *, service: str, message: str) -> None:
    """Autogenerate a revision for ``service`` from the difference between models and ``url``."""
    config = alembic_config(url)
    folder = _PACKAGE_ROOT / service / "migrations"
    folder.mkdir(exist_ok=True)
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(config).get_revisions("heads")
    branch_heads = [script for script in heads if service in (script.branch_labels or set())]
    if not branch_heads and service != "common":
        # Walk down to find whether the branch exists under another head.
        all_scripts = list(ScriptDirectory.from_config(config).walk_revisions())
        labelled = [s for s in all_scripts if service in (s.branch_labels or set())]
        branch_heads = labelled
    if branch_heads:
        command.revision(config, message=message, autogenerate=True, head=f"{service}@head")
    else:
        command.revision(
            config,
            message=message,
            autogenerate=True,
            head="base",
            branch_label=service,
            version_path=str(folder),
            depends_on=None if service == "common" else "common",
        )
