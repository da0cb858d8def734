"""Validation data for B-LT/B-LTA, produced in-process by our own trust services.

Our OCSP responder and CRL live in the same service, so the engine asks them directly instead
of fetching the URLs in the certificates; the results go into a certvalidator
``ValidationContext`` with fetching disabled, and pyHanko embeds them in the DSS.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable

from asn1crypto import crl, ocsp, x509
from hoso.common.errors import FailedPrecondition, Unavailable
from hoso.signing.pades.environment import TrustEnvironment
from pyhanko_certvalidator import ValidationContext

__all__ = ["offline_context", "revocation_lock", "validation_context"]

_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def revocation_lock() -> asyncio.Lock:
    """Serialises calls into the revocation source within this process (per event loop)."""
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


def offline_context(env: TrustEnvironment) -> ValidationContext:
    """A context that trusts our roots and never fetches (pre-sign checks at B-B/B-T)."""
    return ValidationContext(
        trust_roots=list(env.trust_roots),
        other_certs=list(env.other_certs),
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


async def validation_context(
    env: TrustEnvironment, certs: Iterable[x509.Certificate]
) -> ValidationContext:
    """A context holding revocation data for ``certs`` (and nothing fetched from the net).

    Self-signed certificates (roots) need no revocation data and are skipped.

    Raises:
        Unavailable: the revocation source failed (retry later).
        FailedPrecondition: no revocation source is configured.
    """
    if env.revocation is None:
        raise FailedPrecondition(
            "levels B-LT and B-LTA need revocation data, but no revocation source is configured"
        )
    unique = {cert.issuer_serial: cert for cert in certs if not cert.self_issued}
    try:
        # One after the other: the source may publish a fresh CRL on first use, and two
        # concurrent publications of the same CRL number collide.
        answers = []
        async with revocation_lock():
            for cert in unique.values():
                answers.append(await env.revocation.revocation_data(cert))
    except Exception as exc:
        raise Unavailable(f"revocation data could not be produced: {exc}") from exc
    ocsps: list[ocsp.OCSPResponse] = []
    crls: list[crl.CertificateList] = []
    seen: set[bytes] = set()
    for ocsp_ders, crl_ders in answers:
        for der in ocsp_ders:
            if der not in seen:
                seen.add(der)
                ocsps.append(ocsp.OCSPResponse.load(der))
        for der in crl_ders:
            if der not in seen:
                seen.add(der)
                crls.append(crl.CertificateList.load(der))
    return ValidationContext(
        trust_roots=list(env.trust_roots),
        other_certs=list(env.other_certs),
        ocsps=ocsps,
        crls=crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
