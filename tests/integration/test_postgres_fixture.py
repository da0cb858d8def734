"""PostgreSQL for tests: reachable, fresh databases come and go, unaccent is available."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.fixtures.database import POSTGRES_URL
from tests.fixtures.servers import require_server

pytestmark = pytest.mark.postgres


def _engine(database: str | None = None) -> Engine:
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    if database is not None:
        url = url.set(database=database)
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture
def admin_engine() -> Iterator[Engine]:
    engine = _engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        require_server(
            "postgresql", f"{POSTGRES_URL} not reachable ({exc}): run scripts/ensure-postgres.sh"
        )
    yield engine
    engine.dispose()


def _databases(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT datname FROM pg_database")))


def test_fresh_database_is_created_and_dropped(admin_engine: Engine) -> None:
    name = f"hoso_fixture_{uuid.uuid4().hex[:12]}"
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        assert name in _databases(admin_engine)
        fresh = _engine(name)
        with fresh.connect() as connection:
            assert connection.scalar(text("SELECT current_database()")) == name
            tables = connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
            assert tables == 0
        fresh.dispose()
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert name not in _databases(admin_engine)


def test_unaccent_extension_strips_vietnamese_diacritics(postgres_url: str) -> None:
    engine = _engine(make_url(postgres_url).database)
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
            plain = connection.scalar(text("SELECT unaccent(:s)"), {"s": "Giấy chứng nhận"})
    finally:
        engine.dispose()
    assert plain == "Giay chung nhan"
