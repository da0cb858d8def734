"""Two replicas starting together on one empty catalog create one certificate authority."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hoso.common import migrate
from hoso.common.audit import AuditEvent
from hoso.common.runtime import Runtime
from hoso.signing.models import SigningCertificate
from hoso.signing.service import build_trust
from hoso.signing.trust.profiles import Profile
from hoso.signing.trust.service import TrustServices
from sqlalchemy import func, select

from tests.fixtures.grpc_server import make_test_settings

pytestmark = pytest.mark.asyncio


async def test_replicas_starting_together_create_one_ca(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Migrations are applied once before the replicas start (deploy's migration step).
    await asyncio.to_thread(migrate.upgrade, database_url)
    overrides = {
        "server": {"http_port": 18080},
        "database": {"migrate_on_start": False},
        # Replicas share the key store (an HSM in production; here one key directory).
        "signing": {
            "key_passphrase": "replica passphrase",
            "key_directory": str(tmp_path / "keys"),
        },
    }
    runtimes = [
        Runtime(make_test_settings(tmp_path / f"replica{i}", database_url, overrides))
        for i in range(2)
    ]
    # Both replicas must have found no CA before either takes the creation lock: without the
    # lock (or its second look) each would then create its own CA, every run.
    both_looked = asyncio.Barrier(2)
    take_lock = TrustServices._lock_authority

    async def meet_then_lock(session):  # type: ignore[no-untyped-def]
        await both_looked.wait()
        await take_lock(session)

    monkeypatch.setattr(TrustServices, "_lock_authority", staticmethod(meet_then_lock))
    try:
        replicas = await asyncio.wait_for(
            asyncio.gather(*(build_trust(runtime) for runtime in runtimes)), timeout=60
        )
        authorities = [await replica.services.authority() for replica in replicas]
        assert authorities[0].issuing.certificate == authorities[1].issuing.certificate
        assert authorities[0].root.certificate == authorities[1].root.certificate
        # Outside a server the configured HTTP port names the URLs (never a relative path).
        assert authorities[0].urls.ocsp == "http://127.0.0.1:18080/pki/ocsp"
        async with runtimes[0].session() as session:
            counts = dict(
                (
                    await session.execute(
                        select(SigningCertificate.profile, func.count()).group_by(
                            SigningCertificate.profile
                        )
                    )
                ).all()
            )
            created = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "trust.ca.create")
            )
        assert counts == {
            Profile.ROOT_CA.value: 1,
            Profile.ISSUING_CA.value: 1,
            Profile.TSA.value: 1,
            Profile.OCSP_RESPONDER.value: 1,
        }
        assert created == 1
        # The replica that did not create the CA signs with the shared keys all the same.
        for replica in replicas:
            crl = await replica.services.current_crl()
            assert crl
        for replica in replicas:
            await replica.close()
    finally:
        for runtime in runtimes:
            await runtime.close()
