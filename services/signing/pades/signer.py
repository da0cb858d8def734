"""A pyHanko :class:`~pyhanko.sign.signers.pdf_cms.Signer` backed by a key-store handle.

The key store loads (or opens on the token) each key once and hands out a
:class:`~hoso.signing.keystore.api.KeyHandle`; this adapter only forwards the bytes to sign,
so no key material is parsed per signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from asn1crypto import algos, x509
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

if TYPE_CHECKING:
    from hoso.signing.keystore.api import PublicKey

__all__ = ["KeyHandleSigner", "SigningCredential", "SigningKey"]


class SigningKey(Protocol):
    """What signing needs from a key handle (see ``hoso.signing.keystore.api.KeyHandle``)."""

    key_id: str
    public_key: PublicKey

    async def sign(self, data: bytes, *, digest_algorithm: str = "sha256") -> bytes: ...

    def signature_algorithm(
        self, digest_algorithm: str = "sha256"
    ) -> algos.SignedDigestAlgorithm: ...


@dataclass(frozen=True)
class SigningCredential:
    """A certificate and the handle of its private key, as resolved from a credential id.

    Attributes:
        credential_id: the credential's identifier, recorded in the audit event.
        key: the key-store handle that signs.
        certificate: the signer's certificate.
        chain: issuing CA certificates up to (and including) the root, embedded in the CMS
            so that validators such as pdfsig can build the path.
    """

    credential_id: str
    key: SigningKey
    certificate: x509.Certificate
    chain: Sequence[x509.Certificate] = field(default_factory=tuple)


class KeyHandleSigner(Signer):
    """Signs CMS signed attributes with a :class:`SigningKey`.

    Args:
        credential: the resolved credential; its key decides the mechanism (RSASSA-PSS for
            RSA, ECDSA for EC).
        extra_certs: more certificates to embed (e.g. the TSA chain for LT validation).
    """

    def __init__(
        self, credential: SigningCredential, extra_certs: Iterable[x509.Certificate] = ()
    ) -> None:
        registry = SimpleCertificateStore.from_certs([*credential.chain, *extra_certs])
        super().__init__(
            signing_cert=credential.certificate, cert_registry=registry, embed_roots=True
        )
        self._key = credential.key

    def get_signature_mechanism_for_digest(
        self, digest_algorithm: str | None
    ) -> algos.SignedDigestAlgorithm:
        """The key's own mechanism for ``digest_algorithm`` (SHA-256 when unspecified)."""
        return self._key.signature_algorithm(digest_algorithm or "sha256")

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign ``data`` (the DER of the signed attributes) with the key handle.

        A dry run (used by pyHanko to size the signature placeholder) returns zero bytes of
        the largest length this key can produce, without touching the key store.
        """
        if dry_run:
            return bytes(_max_signature_length(self._key.public_key))
        get_pyca_cryptography_hash(digest_algorithm)  # refuses unknown digests early
        return await self._key.sign(data, digest_algorithm=digest_algorithm)


def _max_signature_length(public_key: object) -> int:
    key_size: int = getattr(public_key, "key_size", 0)
    if hasattr(public_key, "curve"):
        # DER Ecdsa-Sig-Value: two INTEGERs of up to key_size bits plus a sign byte each.
        coord = (key_size + 7) // 8 + 1
        return 2 * (coord + 2) + 3
    return (key_size + 7) // 8
