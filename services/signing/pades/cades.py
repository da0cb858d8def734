"""CAdES detached signatures (ETSI EN 319 122-1, B-B and B-T) over any file, streamed.

The content is hashed while it streams; only the digest reaches pyHanko, which builds the
CMS SignedData without encapsulated content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import cms
from hoso.common.errors import InvalidArgument
from hoso.signing.pades.engine import PadesEngine, check_certificate_usable
from hoso.signing.pades.inputs import SpooledDocument
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.signer import KeyHandleSigner, SigningCredential
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

__all__ = ["DetachedResult", "sign_detached"]


@dataclass(frozen=True)
class DetachedResult:
    """A detached CMS (DER) and the digests for the audit trail."""

    cms_der: bytes
    content_sha256: bytes
    signature_sha256: bytes
    level: SignatureLevel


async def sign_detached(
    engine: PadesEngine,
    document: SpooledDocument,
    credential: SigningCredential,
    level: SignatureLevel = SignatureLevel.B_T,
) -> DetachedResult:
    """Sign ``document`` with a detached CAdES signature.

    Raises:
        InvalidArgument: a level above B-T was asked for (use PAdES for LT/LTA on PDFs).
        FailedPrecondition: expired credential certificate.
        Unavailable: B-T and no TSA answered.
    """
    import datetime as dt

    if level not in (SignatureLevel.B_B, SignatureLevel.B_T):
        raise InvalidArgument("CAdES detached signatures support B-B and B-T", field="level")
    check_certificate_usable(credential.certificate, dt.datetime.now(dt.UTC))
    digest = document.sha256
    signer = KeyHandleSigner(credential)
    signature = await signer.async_sign(
        digest,
        "sha256",
        use_pades=True,  # ESS signing-certificate-v2, as CAdES baseline requires
        timestamper=engine.timestamper if level.needs_timestamp else None,
        signed_attr_settings=PdfCMSSignedAttributes(),
        is_pdf_sig=False,  # keeps the signing-time attribute, expected in CAdES B-B
    )
    assert isinstance(signature, cms.ContentInfo)
    value = signature["content"]["signer_infos"][0]["signature"].native
    return DetachedResult(
        cms_der=signature.dump(),
        content_sha256=digest,
        signature_sha256=hashlib.sha256(value).digest(),
        level=level,
    )
