"""Two replicas on one catalog refreshing a due CRL at the same moment publish ONE CRL.

Both replicas are held until each has seen the CRL as due, so without the publication lock
(and its second look) both would number a new CRL every run: on PostgreSQL a second,
different CRL (or a clashing number); on SQLite "database is locked".
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from hoso.common import migrate
from hoso.common.runtime import Runtime
from hoso.signing.models import SigningCrl
from hoso.signing.service import build_trust
from hoso.signing.trust import repository as repo
from sqlalchemy import func, select, text, update

from tests.fixtures.grpc_server import make_test_settings

pytestmark = pytest.mark.asyncio


async def _replicas(database_url: str, tmp_path: Path) -> tuple[list[Runtime], list]:  # type: ignore[type-arg]
    await asyncio.to_thread(migrate.upgrade, database_url)
    overrides = {
        "server": {"http_port": 18080},
        "database": {"migrate_on_start": False},
        "signing": {
            "key_passphrase": "replica passphrase",
            "key_directory": str(tmp_path / "keys"),
        },
    }
    runtimes = [
        Runtime(make_test_settings(tmp_path / f"replica{i}", database_url, overrides))
        for i in range(2)
    ]
    trusts = [await build_trust(runtime) for runtime in runtimes]  # one after another: one CA
    return runtimes, trusts


async def _make_crls_due(runtime: Runtime) -> None:
    async with runtime.session() as session:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await session.execute(update(SigningCrl).values(next_update=past))


async def _crl_count(runtime: Runtime, issuer_serial: str) -> int:
    async with runtime.session() as session:
        statement = (
            select(func.count())
            .select_from(SigningCrl)
            .where(SigningCrl.issuer_serial_hex == issuer_serial)
        )
        return int(await session.scalar(statement) or 0)


async def test_two_replicas_refreshing_together_publish_one_crl(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtimes, trusts = await _replicas(database_url, tmp_path)
    try:
        authority = await trusts[0].services.authority()
        issuer = repo.serial_hex(authority.issuing.certificate.serial_number)
        await trusts[0].services.current_crl()  # the first CRL exists
        await _make_crls_due(runtimes[0])
        before = await _crl_count(runtimes[0], issuer)

        # Each replica pauses once, right after it found the CRL due, until both have.
        both_saw_it_due = asyncio.Barrier(2)
        waited: set[asyncio.Task] = set()  # type: ignore[type-arg]
        latest = repo.CrlRepository.latest

        async def latest_then_meet(self, issuer_serial):  # type: ignore[no-untyped-def]
            row = await latest(self, issuer_serial)
            task = asyncio.current_task()
            if task not in waited:
                waited.add(task)  # type: ignore[arg-type]
                await both_saw_it_due.wait()
            return row

        monkeypatch.setattr(repo.CrlRepository, "latest", latest_then_meet)
        first, second = await asyncio.wait_for(
            asyncio.gather(*(trust.services.current_crl() for trust in trusts)), timeout=60
        )
        monkeypatch.undo()
        assert first == second
        assert await _crl_count(runtimes[0], issuer) == before + 1
        numbers = asn1_crl.CertificateList.load(first)["tbs_cert_list"]["crl_extensions"]
        number = next(
            e["extn_value"].native for e in numbers if e["extn_id"].native == "crl_number"
        )
        assert number == before + 1
    finally:
        for trust in trusts:
            await trust.close()
        for runtime in runtimes:
            await runtime.close()


async def test_refresh_waits_for_a_transaction_holding_the_write_lock(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consent transaction of another process holds the (SQLite) write lock: the CRL
    refresh waits for it instead of failing with "database is locked"."""
    runtimes, trusts = await _replicas(database_url, tmp_path)
    try:
        services = trusts[1].services
        await services.current_crl()
        await _make_crls_due(runtimes[0])
        reached_lock = asyncio.Event()
        lock_issuer = type(services)._lock_issuer

        async def signal_then_lock(session, issuer_serial):  # type: ignore[no-untyped-def]
            reached_lock.set()
            await lock_issuer(session, issuer_serial)

        monkeypatch.setattr(type(services), "_lock_issuer", staticmethod(signal_then_lock))
        async with runtimes[0].session() as holder:
            # a write: the transaction now holds the database write lock (a row lock on PG)
            await holder.execute(text("UPDATE signing_crls SET number = number"))
            refresh = asyncio.create_task(services.current_crl())
            await asyncio.wait_for(reached_lock.wait(), timeout=30)
        crl = await asyncio.wait_for(refresh, timeout=60)
        assert asn1_crl.CertificateList.load(crl)["tbs_cert_list"]["next_update"].native > (
            dt.datetime.now(dt.UTC)
        )
    finally:
        for trust in trusts:
            await trust.close()
        for runtime in runtimes:
            await runtime.close()
