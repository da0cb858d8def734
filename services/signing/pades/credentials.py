"""Credential material for signing: certificate, chain and key handle, cached per certificate.

Parsing the certificate and opening the key (decrypting a software key, finding it on a
token) cost more than a signature, so each certificate's material is resolved once. The
cache is keyed by certificate serial, and every request still goes through
``ConsentService.consume_consent``, which reads the credential's and the certificate's
*current* state: a revoked, suspended, expired or re-bound credential is refused even while
its material is cached. :meth:`CredentialCache.invalidate` drops an entry explicitly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from asn1crypto import x509
from hoso.common.errors import FailedPrecondition, InvalidArgument, NotFound
from hoso.signing.keystore.api import KeyStore
from hoso.signing.models import SigningCertificate
from hoso.signing.models import SigningCredential as CredentialRow
from hoso.signing.pades.signer import SigningCredential
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CredentialCache", "credential_id_of"]

_PREFIX = "credentials/"


def credential_id_of(name: str, field: str = "header.credential") -> str:
    """The id in ``credentials/{id}`` (a bare id is accepted too).

    Raises:
        InvalidArgument: empty or malformed.
    """
    credential_id = name.removeprefix(_PREFIX)
    if not credential_id or "/" in credential_id:
        raise InvalidArgument("name the credential as credentials/{credential_id}", field=field)
    return credential_id


class CredentialCache:
    """Resolves credential rows to :class:`SigningCredential` (certificate + key handle).

    Args:
        keystore: where the credentials' keys live.
        chain: issuing CA and root certificates embedded with every signature.
    """

    def __init__(self, keystore: KeyStore, chain: Sequence[x509.Certificate]) -> None:
        self._keystore = keystore
        self._chain = tuple(chain)
        self._by_serial: dict[str, SigningCredential] = {}
        self._lock = asyncio.Lock()

    def invalidate(self, serial_hex: str | None = None) -> None:
        """Forget one certificate's material (or all of it)."""
        if serial_hex is None:
            self._by_serial.clear()
        else:
            self._by_serial.pop(serial_hex.lower(), None)

    async def resolve(self, session: AsyncSession, row: CredentialRow) -> SigningCredential:
        """The material of a credential that ``consume_consent`` just allowed.

        Raises:
            NotFound: the certificate row vanished.
            FailedPrecondition: the certificate's key is not in our key store.
        """
        serial = row.certificate_serial_hex.lower()
        cached = self._by_serial.get(serial)
        if cached is not None and cached.credential_id == row.credential_id:
            return cached
        async with self._lock:
            certificate = await session.get(SigningCertificate, row.certificate_serial_hex)
            if certificate is None:
                raise NotFound(
                    f"the certificate of credential {row.credential_id} is missing",
                    field="header.credential",
                )
            if certificate.key_id is None:
                raise FailedPrecondition(
                    f"credential {row.credential_id} has no key in our key store",
                    field="header.credential",
                )
            material = SigningCredential(
                credential_id=row.credential_id,
                key=await self._keystore.get(certificate.key_id),
                certificate=x509.Certificate.load(certificate.der),
                chain=self._chain,
            )
            self._by_serial[serial] = material
            return material
