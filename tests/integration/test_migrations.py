"""Migrations: every branch applies on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hoso.common import migrate
from hoso.common.db import sync_url
from sqlalchemy import create_engine, inspect


def _diff(url: str) -> list:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_object": lambda obj, name, type_, reflected, compare_to: (
                        not (
                            type_ == "table"
                            and name
                            and ("_fts" in name or name.startswith("sqlite_"))
                        )
                    )
                },
            )
            return compare_metadata(context, migrate.metadata())
    finally:
        engine.dispose()


def test_migrations_apply_and_match_models(database_url: str) -> None:
    migrate.upgrade(database_url)
    heads = migrate.current_heads(database_url)
    assert heads, "no revision applied"
    engine = create_engine(sync_url(database_url))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert "common_audit_events" in tables
    differences = _diff(database_url)
    assert differences == [], f"models and migrations differ: {differences}"


def test_upgrade_is_idempotent(database_url: str) -> None:
    migrate.upgrade(database_url)
    first = migrate.current_heads(database_url)
    migrate.upgrade(database_url)
    assert migrate.current_heads(database_url) == first


def test_every_service_branch_has_a_label() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    labels = {label for script in scripts.walk_revisions() for label in script.branch_labels or ()}
    assert "common" in labels
    for service in ("signing", "storage", "ocr"):
        if (migrate._PACKAGE_ROOT / service / "models.py").exists():
            assert service in labels, f"{service} models exist but no migration branch"


@pytest.mark.parametrize("url", ["mysql://x/y"])
def test_unsupported_database_is_refused(url: str) -> None:
    from hoso.common.db import async_url

    with pytest.raises(ValueError, match="use sqlite or postgresql"):
        async_url(url)


def test_concurrent_upgrades_of_a_fresh_postgres_database(postgres_url: str) -> None:
    """Replicas starting together: one migrates, the others wait and find it done."""
    import subprocess
    import sys

    script = "import sys; from hoso.common import migrate; migrate.upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgres_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert _diff(postgres_url) == []
