"""Two-phase (remote) PAdES signing: prepare a document, complete it later.

:func:`prepare` writes the document with its signature placeholder reserved to the spool
directory and returns what the ``signing_prepared`` row must remember: the ByteRange digest,
the reserved region and the CMS signed attributes whose digest the signer signs. The
signature mechanism (RSASSA-PSS for RSA, ECDSA for EC) is fixed at this point because the
signed attributes carry it (CMS algorithm protection).

:func:`complete` embeds the CMS (built around a raw signature value, with a signature
time-stamp for B-T and above, or given whole) into the placeholder; B-LT/B-LTA validation
data is then added like ``ExtendSignature`` does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from asn1crypto import cms, x509
from cryptography import x509 as crypto_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from hoso.common.errors import InvalidArgument
from hoso.signing.keystore.api import signature_algorithm_for, verify_signature
from hoso.signing.pades.engine import (
    PadesEngine,
    SignRequest,
    token_gen_time,
    translate_signing_errors,
)
from hoso.signing.pades.extend import extend_signatures
from hoso.signing.pades.inputs import SpooledDocument
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.signer import SigningCredential
from pyhanko.sign.signers import ExternalSigner
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko_certvalidator.registry import SimpleCertificateStore

__all__ = [
    "Prepared",
    "check_cms",
    "check_signature_value",
    "complete",
    "load_certificate",
    "prepare",
    "signature_timestamp_time",
]


@dataclass(frozen=True)
class Prepared:
    """What completing a prepared signature needs (stored in ``signing_prepared``)."""

    field_name: str
    document_digest: bytes
    reserved_start: int
    reserved_end: int
    signed_attrs_der: bytes
    digest_algorithm: str
    signature_mechanism: str

    @property
    def digest_to_sign(self) -> bytes:
        """The hash of the signed attributes: what the token signs."""
        return hashlib.new(self.digest_algorithm, self.signed_attrs_der).digest()

    @property
    def consent_digest(self) -> bytes:
        """SHA-256 of the signed attributes, which a consent (SAD) is bound to."""
        return hashlib.sha256(self.signed_attrs_der).digest()


def load_certificate(data: bytes, field: str) -> x509.Certificate:
    """A DER or PEM certificate.

    Raises:
        InvalidArgument: unparsable.
    """
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            data = crypto_x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        certificate = x509.Certificate.load(data)
        _ = certificate.public_key.native
        return certificate
    except Exception as exc:  # asn1crypto raises a variety of parse errors
        raise InvalidArgument(f"not a DER or PEM X.509 certificate: {exc}", field=field) from exc


def _external_signer(
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    digest_algorithm: str,
    value: bytes | int,
) -> ExternalSigner:
    public_key = crypto_x509.load_der_x509_certificate(certificate.dump()).public_key()
    return ExternalSigner(
        signing_cert=certificate,
        cert_registry=SimpleCertificateStore.from_certs(chain),
        signature_value=value,
        signature_mechanism=signature_algorithm_for(public_key, digest_algorithm),  # type: ignore[arg-type]
        embed_roots=True,
    )


def _max_length(certificate: x509.Certificate) -> int:
    public_key = crypto_x509.load_der_x509_certificate(certificate.dump()).public_key()
    size: int = getattr(public_key, "key_size", 2048)
    if hasattr(public_key, "curve"):
        return 2 * ((size + 7) // 8 + 3) + 3
    return (size + 7) // 8


async def prepare(
    engine: PadesEngine,
    document: SpooledDocument,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    request: SignRequest,
    output: IO[bytes],
    *,
    validate_signer: bool = True,
) -> Prepared:
    """Write ``document`` with a reserved signature placeholder into ``output``.

    ``validate_signer=False`` accepts an external signer whose CA is not one of our anchors.

    Raises:
        As :meth:`PadesEngine.sign` (bad PDF, field, DocMDP P=1, TSA down for B-T…).
    """
    signer = _external_signer(
        certificate, chain, request.digest_algorithm, _max_length(certificate)
    )
    credential = SigningCredential("", _NoKey(), certificate, tuple(chain))
    setup = await engine.setup(
        document,
        credential,
        signer,
        request,
        embed_validation_info=False,
        validate_signer=validate_signer,
    )
    with translate_signing_errors():
        digest, _, written = await setup.pdf_signer.async_digest_doc_for_signing(
            setup.writer, existing_fields_only=not setup.creates_field, output=output
        )
        signed_attrs = await signer.signed_attrs(
            digest.document_digest,
            request.digest_algorithm,
            attr_settings=PdfCMSSignedAttributes(),
            use_pades=True,
        )
    written.flush()
    mechanism = signer.get_signature_mechanism_for_digest(request.digest_algorithm)
    return Prepared(
        field_name=setup.field_name,
        document_digest=digest.document_digest,
        reserved_start=digest.reserved_region_start,
        reserved_end=digest.reserved_region_end,
        signed_attrs_der=signed_attrs.dump(),
        digest_algorithm=request.digest_algorithm,
        signature_mechanism=mechanism["algorithm"].native,
    )


class _NoKey:
    """Placeholder key: a prepared signature's key is outside (or signs at completion)."""

    key_id = ""
    public_key = None


def check_signature_value(
    certificate: x509.Certificate, prepared: Prepared, value: bytes, field: str
) -> None:
    """Verify a raw signature value over the signed attributes.

    Raises:
        InvalidArgument: it does not verify with the certificate's public key.
    """
    public_key = crypto_x509.load_der_x509_certificate(certificate.dump()).public_key()
    try:
        verify_signature(
            public_key,  # type: ignore[arg-type]
            value,
            prepared.signed_attrs_der,
            prepared.digest_algorithm,
        )
    except (InvalidSignature, ValueError) as exc:
        raise InvalidArgument(
            f"the signature value does not verify against digest_to_sign with the signer's "
            f"certificate ({prepared.signature_mechanism} over {prepared.digest_algorithm})",
            field=field,
        ) from exc


def check_cms(prepared: Prepared, data: bytes, field: str) -> cms.ContentInfo:
    """Parse an external CMS and check that it signs this document's ByteRange digest.

    Raises:
        InvalidArgument: not a SignedData, or its message digest is for another document.
    """
    try:
        content = cms.ContentInfo.load(data)
        signer_info = content["content"]["signer_infos"][0]
        digests = [
            attr["values"][0].native
            for attr in signer_info["signed_attrs"]
            if attr["type"].native == "message_digest"
        ]
    except Exception as exc:
        raise InvalidArgument(f"not a CMS SignedData (DER): {exc}", field=field) from exc
    if digests != [prepared.document_digest]:
        raise InvalidArgument(
            "the CMS does not sign this prepared document (message-digest differs from "
            "document_digest)",
            field=field,
        )
    if len(data) * 2 > prepared.reserved_end - prepared.reserved_start - 2:
        raise InvalidArgument("the CMS is larger than the space reserved for it", field=field)
    return content


async def complete(
    engine: PadesEngine,
    prepared_file: Path,
    prepared: Prepared,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    level: SignatureLevel,
    *,
    signature_value: bytes | None = None,
    cms_object: cms.ContentInfo | None = None,
    output: IO[bytes],
) -> dt.datetime | None:
    """Embed the signature into the prepared file and write the signed PDF to ``output``.

    Give either a verified ``signature_value`` or a checked ``cms_object``. Returns the
    genTime of the signature's time-stamp (``None`` when the CMS carries none, as at B-B).
    """
    if cms_object is None:
        assert signature_value is not None
        signer = _external_signer(certificate, chain, prepared.digest_algorithm, signature_value)
        with translate_signing_errors():
            cms_object = await signer.async_sign_prescribed_attributes(
                prepared.digest_algorithm,
                cms.CMSAttributes.load(prepared.signed_attrs_der),
                timestamper=engine.timestamper if level.needs_timestamp else None,
            )
    digest = PreparedByteRangeDigest(
        document_digest=prepared.document_digest,
        reserved_region_start=prepared.reserved_start,
        reserved_region_end=prepared.reserved_end,
    )
    with prepared_file.open("r+b") as file:
        with translate_signing_errors():
            await PdfTBSDocument.async_finish_signing(file, digest, cms_object)
        file.seek(0)
        if level.needs_validation_data:
            with tempfile.TemporaryFile() as signed:
                while chunk := file.read(1024 * 1024):
                    signed.write(chunk)
                signed.seek(0)
                document = SpooledDocument(file=signed, size=0, sha256=b"")
                await extend_signatures(engine, document, level, output)
        else:
            while chunk := file.read(1024 * 1024):
                output.write(chunk)
    output.seek(0)
    return signature_timestamp_time(cms_object)


def signature_timestamp_time(content: cms.ContentInfo) -> dt.datetime | None:
    """The genTime of a CMS signature's signature-time-stamp-token, if it has one."""
    signer_info = content["content"]["signer_infos"][0]
    for attr in signer_info["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            return token_gen_time(attr["values"][0])
    return None
