"""Two transactions appending to the audit chain at once on SQLite get consecutive sequences.

The interleaving is forced, not hoped for: the second appender's first statement on the chain
is seen (SQLAlchemy cursor events) before the first transaction commits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hoso.common import audit
from hoso.common.db import create_engine
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


async def test_concurrent_appenders_on_sqlite_take_consecutive_sequences(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    async with engine.begin() as connection:
        await connection.run_sync(audit.AuditEvent.__table__.create)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    loop = asyncio.get_running_loop()
    second_reached_chain = asyncio.Event()

    def statement_done(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # runs in the event loop's thread once a statement of the second appender returned,
        # or (with the write lock taken first) once it was handed to SQLite and may block
        if conn.info.get("appender") == "second" and "common_audit_events" in statement:
            loop.call_soon(second_reached_chain.set)

    event.listen(engine.sync_engine, "after_cursor_execute", statement_done)
    event.listen(engine.sync_engine, "before_cursor_execute", _lock_sent(statement_done))
    try:
        async with sessions() as first, first.begin():
            await audit.append_event(first, actor="a", action="one", target="x")

            async def second_append() -> int:
                async with sessions() as second, second.begin():
                    (await second.connection()).info["appender"] = "second"
                    appended = await audit.append_event(second, actor="b", action="two", target="x")
                    return appended.sequence

            second = asyncio.create_task(second_append())
            await asyncio.wait_for(second_reached_chain.wait(), timeout=60)
        # the first transaction committed after the second one looked at the chain
        assert await asyncio.wait_for(second, timeout=60) == 2
        async with sessions() as session:
            check = await audit.verify_chain(session)
        assert check.ok and check.events_checked == 2, check
    finally:
        await engine.dispose()


def _lock_sent(done: Any) -> Any:
    """Signal as soon as the lock-taking UPDATE is sent (it blocks until the first commits)."""

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE COMMON_AUDIT_EVENTS"):
            done(conn, cursor, statement, *args)

    return before
