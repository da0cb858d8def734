"""One PAdES signature, end to end: checks, field, appearance, CMS, time-stamp, DSS, LTA.

:class:`PadesEngine` is long-lived (one per service): it keeps the time-stamper chain (whose
size-estimation token is cached after the first use) and the offline validation context.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from asn1crypto import ocsp, x509
from hoso.common.errors import FailedPrecondition, HosoError, InvalidArgument, Unavailable
from hoso.signing.pades.appearance import Appearance, AppearanceKind, stamp_style
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import SpooledDocument, open_pdf
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.placement import Placement, resolve_placement
from hoso.signing.pades.qr import QrPayload, apply_qr
from hoso.signing.pades.revocation import offline_context, revocation_lock, validation_context
from hoso.signing.pades.signer import KeyHandleSigner, SigningCredential
from hoso.signing.pades.timestamping import FallbackTimeStamper
from hoso.signing.pades.workflows import (
    FieldLock,
    check_preconditions,
    docmdp_permission,
    field_mdp,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import signers
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.common_utils import extract_ts_certs
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathValidationError, ValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

__all__ = [
    "PadesEngine",
    "SignRequest",
    "SignResult",
    "SigningSetup",
    "check_certificate_usable",
    "token_gen_time",
    "translate_signing_errors",
]

_DEFAULT_FIELD_PREFIX = "Signature"


@dataclass(frozen=True)
class SignRequest:
    """What to sign and how.

    Attributes:
        level: PAdES baseline level; B-T by default.
        field_name: the signature field to fill or create; a fresh name when empty.
        create_field: create ``field_name`` (invisible unless a placement is given) instead
            of requiring it to exist.
        placement: where to create a new visible field (ignored for existing fields).
        appearance: how the signature looks; invisible by default.
        certify: DocMDP P (1, 2 or 3) for a certification signature; ``None`` for approval.
        lock: FieldMDP lock recorded on a newly created field.
        reason, location, contact: the signature dictionary's informational entries.
        qr: a QR code to print in the same revision (unsigned documents only).
        digest_algorithm: SHA-256 (default), SHA-384 or SHA-512.
    """

    level: SignatureLevel = SignatureLevel.B_T
    field_name: str | None = None
    create_field: bool = False
    placement: Placement | None = None
    appearance: Appearance = field(default_factory=Appearance)
    certify: int | None = None
    lock: FieldLock | None = None
    reason: str | None = None
    location: str | None = None
    contact: str | None = None
    qr: QrPayload | None = None
    digest_algorithm: str = "sha256"


@dataclass(frozen=True)
class SignResult:
    """What a signature produced; the digests go into the audit event.

    Attributes:
        field_name: the field that holds the signature.
        level: the level reached (never lower than requested).
        document_sha256: SHA-256 of the input document.
        signature_sha256: SHA-256 of the raw signature value made by the key.
        output_sha256: SHA-256 of the signed document.
        output_size: size of the signed document in bytes.
        signing_time: when the signature was made (UTC): the signature time-stamp's genTime
            for B-T and above, the server's clock for B-B.
    """

    field_name: str
    level: SignatureLevel
    document_sha256: bytes
    signature_sha256: bytes
    output_sha256: bytes
    output_size: int
    signing_time: dt.datetime


class _RecordingSigner(KeyHandleSigner):
    """Keeps the last signature value so its digest can be audited."""

    last_signature: bytes = b""

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        value = await super().async_sign_raw(data, digest_algorithm, dry_run)
        if not dry_run:
            self.last_signature = value
        return value


class _GenTimeRecorder:
    """One signature's view of the shared time-stamper: keeps the first token's genTime.

    The first token pyHanko asks for is the signature time-stamp (a B-LTA document
    time-stamp comes later), so its genTime is the signing time a B-T+ result reports.
    Everything else, including the cached size-estimation token, is the shared stamper's.
    """

    def __init__(self, inner: FallbackTimeStamper) -> None:
        self._inner = inner
        self.gen_time: dt.datetime | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        token = await self._inner.async_timestamp(message_digest, md_algorithm)
        if self.gen_time is None:
            self.gen_time = token_gen_time(token)
        return token


def token_gen_time(token: Any) -> dt.datetime:
    """The genTime of an RFC 3161 time-stamp token (a CMS ``ContentInfo``)."""
    return token["content"]["encap_content_info"]["content"].parsed["gen_time"].native


def check_certificate_usable(cert: x509.Certificate, now: dt.datetime) -> None:
    """Refuse certificates outside their validity period.

    Raises:
        FailedPrecondition: not yet valid or expired (the message gives the dates).
    """
    validity = cert["tbs_certificate"]["validity"]
    not_before = validity["not_before"].native
    not_after = validity["not_after"].native
    if now < not_before:
        raise FailedPrecondition(
            f"the credential's certificate is not valid before {not_before.isoformat()}",
            field="credential_id",
        )
    if now > not_after:
        raise FailedPrecondition(
            f"the credential's certificate expired on {not_after.isoformat()}; renew it",
            field="credential_id",
        )


class PadesEngine:
    """Signs PDFs with credentials from the key store and our trust services.

    Args:
        env: trust anchors, time-stamp authorities and revocation source.
    """

    def __init__(self, env: TrustEnvironment) -> None:
        self.env = env
        self._timestamper = FallbackTimeStamper(env.timestampers) if env.timestampers else None
        self._offline_context = offline_context(env)
        # Signature container sizes learnt from the first signature of each kind: pyHanko's
        # estimate builds a whole dummy CMS, about a third of the cost of a small signature.
        self._reserved: dict[tuple[object, ...], int] = {}
        # Validation data (fresh OCSP responses, CRLs) reused briefly across signatures. The
        # signer's own status is checked per request anyway (catalog or OCSP), so a revoked
        # signer never signs; embedded answers are at most this old.
        self._contexts: dict[tuple[bytes, ...], tuple[float, ValidationContext]] = {}
        self.validation_reuse_seconds = 30.0

    @property
    def timestamper(self) -> FallbackTimeStamper:
        """The time-stamper chain; raises ``Unavailable`` when none is configured."""
        if self._timestamper is None:
            raise Unavailable("no time-stamp authority is configured; B-T and above need one")
        return self._timestamper

    async def tsa_certificates(self, digest_algorithm: str = "sha256") -> list[x509.Certificate]:
        """Certificates of the preferred TSA (from its cached size-estimation token)."""
        token = await self.timestamper.async_dummy_response(digest_algorithm)
        return list(extract_ts_certs(token, SimpleCertificateStore()))

    async def sign(
        self,
        document: SpooledDocument,
        credential: SigningCredential,
        request: SignRequest,
        output: IO[bytes],
    ) -> SignResult:
        """Sign ``document`` into ``output`` (a seekable, readable, writable file).

        Raises:
            InvalidArgument: not a PDF, damaged, bad field/placement/appearance.
            FailedPrecondition: encrypted, DocMDP P=1, field already signed, expired
                certificate, revoked certificate.
            Unavailable: no time-stamp authority answered, or revocation data failed.
        """
        signer = _RecordingSigner(credential)
        setup = await self.setup(document, credential, signer, request)
        size_key = (
            credential.certificate.sha256,
            request.digest_algorithm,
            request.level.needs_timestamp,
            request.appearance.kind,
        )
        reserved = self._reserved.get(size_key)
        with translate_signing_errors():
            await setup.pdf_signer.async_sign_pdf(
                setup.writer,
                existing_fields_only=not setup.creates_field,
                output=output,
                bytes_reserved=reserved,
            )
        if reserved is None:
            self._reserved[size_key] = _reserved_size(output, setup.field_name)
        signing_time = setup.now
        if request.level.needs_timestamp:
            # B-T and above: the time a validator trusts is the time-stamp's, not our clock
            assert setup.timestamper is not None and setup.timestamper.gen_time is not None
            signing_time = setup.timestamper.gen_time
        return _result(
            setup.field_name, request.level, document, signer.last_signature, output, signing_time
        )

    async def setup(
        self,
        document: SpooledDocument,
        credential: SigningCredential,
        signer: signers.Signer,
        request: SignRequest,
        *,
        embed_validation_info: bool | None = None,
        validate_signer: bool = True,
    ) -> SigningSetup:
        """Check the request against the document and build pyHanko's signer for it.

        ``embed_validation_info`` overrides the level's choice (two-phase signing adds the
        validation data after completion). ``validate_signer=False`` skips the pre-sign path
        validation for external signers whose CA we do not anchor (B-B/B-T only).
        """
        now = dt.datetime.now(dt.UTC)
        check_certificate_usable(credential.certificate, now)
        reader = open_pdf(document.file)
        certify = docmdp_permission(request.certify)
        placement = request.placement
        appearance = _with_signer_name(request.appearance, credential.certificate)
        if appearance.kind is AppearanceKind.COPY_TEXT and placement is None:
            placement = _top_right_of_first_page(reader)
        if appearance.visible and placement is None and not request.field_name:
            raise InvalidArgument(
                "a visible signature needs a placement or an existing field_name",
                field="placement",
            )
        field_name = unicodedata.normalize("NFC", request.field_name or _fresh_field_name(reader))
        creates_field = placement is not None or request.create_field or not request.field_name
        check_preconditions(
            reader,
            field_name=field_name,
            creates_field=creates_field,
            certify=certify,
            adds_page_content=request.qr is not None,
        )
        embed = (
            request.level.needs_validation_data
            if embed_validation_info is None
            else embed_validation_info
        )
        context = self._offline_context
        if request.level.needs_timestamp:
            # fails early (UNAVAILABLE) when no TSA answers, before anything is written
            await self.tsa_certificates(request.digest_algorithm)
        if embed:
            context = await self._validation_context(credential, request.digest_algorithm)
        if self.env.revocation is not None:
            await self._refuse_revoked(credential)
        new_field = None
        if creates_field:
            page_index, box = (0, None)
            if placement is not None and appearance.visible:
                page_index, box = resolve_placement(
                    reader, document.file, placement, seal_diameter_mm=appearance.seal_diameter_mm
                )
            new_field = SigFieldSpec(
                sig_field_name=field_name,
                on_page=page_index,
                box=tuple(round(v, 2) for v in box) if box else None,  # type: ignore[arg-type]
                field_mdp_spec=field_mdp(request.lock),
                doc_mdp_update_value=certify,
            )
        writer = IncrementalPdfFileWriter(document.file, strict=False)
        if request.qr is not None:
            apply_qr(writer, request.qr, int(reader.root["/Pages"]["/Count"]))
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=request.digest_algorithm,
            subfilter=SigSeedSubFilter.PADES,
            reason=_nfc(request.reason),
            location=_nfc(request.location),
            contact_info=_nfc(request.contact),
            certify=certify is not None,
            docmdp_permissions=certify or signers.PdfSignatureMetadata.docmdp_permissions,
            embed_validation_info=embed,
            use_pades_lta=embed and request.level.needs_archive_timestamp,
            validation_context=context if (validate_signer or embed) else None,
        )
        recorder = _GenTimeRecorder(self.timestamper) if request.level.needs_timestamp else None
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            timestamper=recorder,  # type: ignore[arg-type]
            stamp_style=stamp_style(appearance, now),
            new_field_spec=new_field,
        )
        return SigningSetup(pdf_signer, writer, field_name, creates_field, now, recorder)

    async def _validation_context(
        self, credential: SigningCredential, digest_algorithm: str
    ) -> ValidationContext:
        tsa_certs = await self.tsa_certificates(digest_algorithm)
        certs = [credential.certificate, *credential.chain, *tsa_certs]
        key = tuple(cert.sha256 for cert in certs)
        now = time.monotonic()
        cached = self._contexts.get(key)
        if cached is not None and now - cached[0] < self.validation_reuse_seconds:
            return cached[1]
        context = await validation_context(self.env, certs)
        self._contexts = {k: v for k, v in self._contexts.items() if now - v[0] < 60}
        self._contexts[key] = (now, context)
        return context

    async def _refuse_revoked(self, credential: SigningCredential) -> None:
        """Fail when the in-process revocation source says the signer's certificate is revoked.

        Only the signer's own OCSP answer is needed for this, not a whole validation context.
        """
        assert self.env.revocation is not None
        status_of = getattr(self.env.revocation, "revocation_status", None)
        if status_of is not None:
            reason = await status_of(credential.certificate)
            if reason is not None:
                raise FailedPrecondition(
                    f"the credential's certificate is revoked ({reason})", field="credential_id"
                )
            return
        try:
            async with revocation_lock():
                ocsps, _ = await self.env.revocation.revocation_data(credential.certificate)
        except Exception as exc:
            raise Unavailable(f"revocation data could not be produced: {exc}") from exc
        for der in ocsps:
            response = ocsp.OCSPResponse.load(der)
            if response["response_status"].native != "successful":
                continue
            for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
                status = single["cert_status"]
                if (
                    single["cert_id"]["serial_number"].native
                    == credential.certificate.serial_number
                    and status.name == "revoked"
                ):
                    raise FailedPrecondition(
                        "the credential's certificate is revoked "
                        f"({status.chosen['revocation_reason'].native})",
                        field="credential_id",
                    )


@dataclass
class SigningSetup:
    """pyHanko's signer and writer for one signature, after every check passed."""

    pdf_signer: signers.PdfSigner
    writer: IncrementalPdfFileWriter
    field_name: str
    creates_field: bool
    now: dt.datetime
    timestamper: _GenTimeRecorder | None = None


@contextlib.contextmanager
def translate_signing_errors() -> Iterator[None]:
    """Turn pyHanko and certvalidator failures into hoso errors with a status."""
    try:
        yield
    except HosoError:
        raise
    except (PathValidationError, ValidationError) as exc:
        raise FailedPrecondition(
            f"the signer's certificate does not validate against our trust anchors: {exc}",
            field="credential_id",
        ) from exc
    except SigningError as exc:
        raise _translate_signing_error(exc) from exc
    except PdfError as exc:
        raise InvalidArgument(f"the PDF cannot be updated: {exc}", field="document") from exc


def _reserved_size(output: IO[bytes], field_name: str) -> int:
    """The placeholder size pyHanko chose for ``field_name``'s signature, plus slack.

    Time-stamp tokens vary by a few bytes (serial, fraction of a second); 1 KiB of slack
    keeps every later signature of the same kind fitting.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    output.seek(0)
    reader = PdfFileReader(output, strict=False)
    for signature in reader.embedded_signatures:
        if signature.field_name == field_name:
            contents = signature.sig_object.raw_get("/Contents")
            size = 2 * len(contents.original_bytes) + 2048
            output.seek(0)
            return size
    output.seek(0)
    raise InvalidArgument(f"signature {field_name!r} not found after signing")


def _with_signer_name(appearance: Appearance, certificate: x509.Certificate) -> Appearance:
    """An official's appearance names the signer: the certificate's common name by default."""
    if appearance.kind is not AppearanceKind.SIGNATURE_IMAGE or appearance.signer_name:
        return appearance
    common_name = certificate.subject.native.get("common_name") or ""
    return dataclasses.replace(appearance, signer_name=unicodedata.normalize("NFC", common_name))


def _nfc(text: str | None) -> str | None:
    return unicodedata.normalize("NFC", text) if text else None


def _fresh_field_name(reader: object) -> str:
    from pyhanko.sign.fields import enumerate_sig_fields

    taken = {name for name, _, _ in enumerate_sig_fields(reader)}  # type: ignore[arg-type]
    number = len(taken) + 1
    while f"{_DEFAULT_FIELD_PREFIX}{number}" in taken:
        number += 1
    return f"{_DEFAULT_FIELD_PREFIX}{number}"


def _top_right_of_first_page(reader: object) -> Placement:
    from hoso.signing.pades.placement import page_size

    width, height = page_size(reader, 0)  # type: ignore[arg-type]
    margin = 28.0
    return Placement(
        page=1, rect=(width - margin - 200, height - margin - 42, width - margin, height - margin)
    )


def _translate_signing_error(exc: SigningError) -> HosoError:
    message = str(exc)
    if "filled" in message or "already" in message:
        return FailedPrecondition(message, field="field_name")
    if "DocMDP" in message or "certif" in message.lower():
        return FailedPrecondition(message)
    return InvalidArgument(f"signing failed: {message}")


def _result(
    field_name: str,
    level: SignatureLevel,
    document: SpooledDocument,
    signature_value: bytes,
    output: IO[bytes],
    now: dt.datetime,
) -> SignResult:
    digest = hashlib.sha256()
    output.seek(0)
    size = 0
    while chunk := output.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    output.seek(0)
    return SignResult(
        field_name=field_name,
        level=level,
        document_sha256=document.sha256,
        signature_sha256=hashlib.sha256(signature_value).digest(),
        output_sha256=digest.digest(),
        output_size=size,
        signing_time=now,
    )
