"""What signing needs from the trust services: anchors, time-stamping and revocation data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import x509
from pyhanko.sign.timestamps.api import TimeStamper

__all__ = ["RevocationSource", "TrustEnvironment"]


class RevocationSource(Protocol):
    """Produces revocation data for our own certificates without an HTTP round trip."""

    async def revocation_data(self, cert: x509.Certificate) -> tuple[list[bytes], list[bytes]]:
        """DER OCSP responses and DER CRLs that cover ``cert``."""
        ...


# A source may also offer ``async revocation_status(cert) -> str | None`` (the revocation
# reason, or None when not revoked): a catalog read the engine prefers to signing an OCSP
# response just to check its own signer before signing.


@dataclass(frozen=True)
class TrustEnvironment:
    """The trust services as seen by the signing engine.

    Attributes:
        trust_roots: anchors that validators (and pyHanko's pre-sign checks) chain to.
        other_certs: intermediate certificates that help build paths (issuing CAs).
        timestampers: time-stamp authorities in order of preference; the next one is tried
            when one fails. Empty means B-T and above cannot be produced.
        revocation: the in-process source of OCSP/CRL data used for B-LT and B-LTA.
    """

    trust_roots: Sequence[x509.Certificate]
    other_certs: Sequence[x509.Certificate] = ()
    timestampers: Sequence[TimeStamper] = ()
    revocation: RevocationSource | None = None
