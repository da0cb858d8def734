"""Plugs the signing service into the server: ``build(runtime)`` returns its gRPC services.

Trust services are built first (:class:`TrustComponents`); the PAdES signing and verification
servicers are built from the same components (key store, trust services, consent) and appended
to the list returned by :func:`build`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hoso.common.runtime import Runtime
from hoso.common.server import Registration
from hoso.signing.keystore.api import KeyStore
from hoso.signing.keystore.factory import open_keystore
from hoso.signing.settings import SigningSettings
from hoso.signing.trust import http as trust_http
from hoso.signing.trust.consent import ConsentService
from hoso.signing.trust.inprocess import InProcessRevocation, InProcessTimeStamper
from hoso.signing.trust.service import TrustServices
from hoso.signing.web import routes as verification_pages

__all__ = ["TrustComponents", "build", "build_trust"]


@dataclass
class TrustComponents:
    """What the trust services share with signing and verification in one process."""

    settings: SigningSettings
    keystore: KeyStore
    services: TrustServices
    consents: ConsentService
    revocation: InProcessRevocation

    def time_stamper(self) -> InProcessTimeStamper:
        """A fresh pyHanko ``TimeStamper`` answered by our TSA in process."""
        return InProcessTimeStamper(self.services)

    async def close(self) -> None:
        await self.keystore.close()


async def build_trust(runtime: Runtime) -> TrustComponents:
    """Open the key store, load or create the CA, and mount the PKI HTTP routes."""
    settings: SigningSettings = runtime.settings.section("signing")
    keystore = open_keystore(settings, runtime.data_dir)
    services = TrustServices(
        sessions=runtime.session,
        keystore=keystore,
        settings=settings,
        # Resolved by the server once the HTTP port is bound; a bare runtime uses the setting.
        public_base_url=runtime.settings.server.effective_public_base_url(runtime.http_port),
        audit=runtime.audit,
    )
    await services.authority()  # first start creates the CA, so failures surface now
    trust_http.add_routes(runtime.http, services)
    return TrustComponents(
        settings=settings,
        keystore=keystore,
        services=services,
        consents=ConsentService(sessions=runtime.session, settings=settings, audit=runtime.audit),
        revocation=InProcessRevocation(services),
    )


async def build(runtime: Runtime) -> list[Registration]:
    """The signing area's gRPC services (trust first; signing and verification append theirs)."""
    from hoso.signing.signing_servicer import registrations as signing_registrations
    from hoso.signing.trust_servicer import TrustServicer
    from hoso.signing.v1 import trust_pb2_grpc as _trust_grpc
    from hoso.signing.verification_servicer import build_verification

    trust = await build_trust(runtime)
    verification_pages.register(runtime)  # public /verify pages on the HTTP port (#8)
    registrations = [
        Registration(
            service_name="hoso.signing.v1.TrustService",
            add_to_server=_trust_grpc.add_TrustServiceServicer_to_server,
            servicer=TrustServicer(trust),
        ),
    ]
    registrations += await signing_registrations(runtime, trust)  # PAdES signing (#4)
    registrations.append(await build_verification(runtime, trust))  # verification (#5)
    return registrations
