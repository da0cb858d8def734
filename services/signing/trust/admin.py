"""Local administration of the trust services: the CA of the configured catalog and key store.

Used by ``hoso ca init`` and ``hoso ca import --local`` on the server host, without a running
server: the same :class:`TrustServices` as the server, over the configured database (migrated
first) and key store, with audit events attributed to ``local-admin``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hoso.common import migrate
from hoso.common.config import Settings
from hoso.common.runtime import Runtime
from hoso.signing.keystore.factory import open_keystore
from hoso.signing.trust.service import TrustServices

__all__ = ["LOCAL_ACTOR", "local_trust_services"]

#: Actor of the audit events written by local administration commands.
LOCAL_ACTOR = "local-admin"


@asynccontextmanager
async def local_trust_services(settings: Settings) -> AsyncIterator[TrustServices]:
    """Trust services over the configured catalog and key store (closed on exit)."""
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(settings)
    try:
        await asyncio.to_thread(migrate.upgrade, runtime.database_url)
        signing = settings.section("signing")
        keystore = open_keystore(signing, runtime.data_dir)
        try:
            yield TrustServices(
                sessions=runtime.session,
                keystore=keystore,
                settings=signing,
                public_base_url=settings.server.effective_public_base_url(),
                audit=functools.partial(runtime.audit, actor=LOCAL_ACTOR),
            )
        finally:
            await keystore.close()
    finally:
        await runtime.close()
