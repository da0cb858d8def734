"""Signer credentials: PIN, lock-out, and consent tokens bound to document digests."""

from __future__ import annotations

import hashlib

import pytest
from hoso.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from hoso.signing.trust.consent import ConsentService

from tests.fixtures.trust import TrustFixture

pytestmark = pytest.mark.asyncio

DOC_A = hashlib.sha256(b"Quyet dinh A").digest()
DOC_B = hashlib.sha256(b"Quyet dinh B").digest()


def _consents(trust: TrustFixture, attempts: int = 3) -> ConsentService:
    settings = trust.services.settings.model_copy(update={"pin_max_attempts": attempts})
    return ConsentService(sessions=trust.session, settings=settings, audit=trust.runtime.audit)


async def _credential(trust: TrustFixture, consents: ConsentService) -> str:
    async with trust.session() as session:
        credential = await consents.create(
            session, certificate_serial=trust.official_row.serial_hex, owner="an.nv", pin="135790"
        )
        return credential.credential_id


async def test_consent_token_is_single_use_and_bound_to_digests(
    trust_services: TrustFixture,
) -> None:
    consents = _consents(trust_services)
    credential_id = await _credential(trust_services, consents)
    async with trust_services.session() as session:
        token, _ = await consents.authorize(session, credential_id, "135790", [DOC_A, DOC_B])
    async with trust_services.session() as session:
        with pytest.raises(PermissionDenied, match="does not cover"):
            await consents.consume_consent(
                session, credential_id, token, [hashlib.sha256(b"other").digest()]
            )
    async with trust_services.session() as session:
        used = await consents.consume_consent(session, credential_id, token, [DOC_A, DOC_B])
        assert used.credential_id == credential_id
    async with trust_services.session() as session:
        with pytest.raises(PermissionDenied, match="already used"):
            await consents.consume_consent(session, credential_id, token, [DOC_A])
    # The PIN itself is also a consent factor.
    async with trust_services.session() as session:
        await consents.consume_consent(session, credential_id, "135790", [DOC_A])


async def test_wrong_pins_lock_the_credential(trust_services: TrustFixture) -> None:
    consents = _consents(trust_services, attempts=3)
    credential_id = await _credential(trust_services, consents)
    for left in (2, 1):
        async with trust_services.session() as session:
            with pytest.raises(PermissionDenied, match=f"{left} attempt"):
                await consents.consume_consent(session, credential_id, "000000", [DOC_A])
    async with trust_services.session() as session:
        with pytest.raises(FailedPrecondition, match="now locked"):
            await consents.authorize(session, credential_id, "000000", [DOC_A])
    async with trust_services.session() as session:
        with pytest.raises(FailedPrecondition, match="locked"):
            await consents.consume_consent(session, credential_id, "135790", [DOC_A])


async def test_bad_inputs_and_revoked_certificate(trust_services: TrustFixture) -> None:
    consents = _consents(trust_services)
    async with trust_services.session() as session:
        with pytest.raises(InvalidArgument) as caught:
            await consents.create(
                session,
                certificate_serial=trust_services.official_row.serial_hex,
                owner="x",
                pin="12",
            )
        assert caught.value.field == "pin"
    credential_id = await _credential(trust_services, consents)
    async with trust_services.session() as session:
        with pytest.raises(InvalidArgument) as caught:
            await consents.authorize(session, credential_id, "135790", [b"short"])
        assert caught.value.field == "digests"
    await trust_services.revoke(trust_services.official)
    async with trust_services.session() as session:
        with pytest.raises(FailedPrecondition, match="REVOKED"):
            await consents.consume_consent(session, credential_id, "135790", [DOC_A])
