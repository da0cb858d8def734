"""Alembic environment shared by every service's migration branch."""

from __future__ import annotations

from alembic import context
from hoso.common.migrate import metadata
from sqlalchemy import create_engine, event, pool
from sqlalchemy.engine import Connection

config = context.config
target_metadata = metadata()


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # FTS5 virtual tables and their shadow tables are managed by raw SQL in migrations.
    return not (
        type_ == "table" and name is not None and ("_fts" in name or name.startswith("sqlite_"))
    )


_MIGRATION_LOCK = 0x686F736F6D  # "hosom"


def _sqlite_autocommit_driver(dbapi_connection, _record):  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None


def _migrate(connection: Connection) -> None:
    """Run the pending revisions on ``connection`` in one migration transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        # pysqlite commits before every DDL statement (an fsync each, ~1 s for a fresh
        # catalog); run the whole upgrade in one real transaction instead.
        event.listen(engine, "connect", _sqlite_autocommit_driver)
        event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # Replicas starting together would each create the same tables; one waits.
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})")
            connection.commit()
        _migrate(connection)
    engine.dispose()


run_migrations_online()
