"""The journey of a dossier, end to end, through the public APIs (demo, tests and benchmark).

create dossier → upload a scan → OCR from the archive's outbox → search by unaccented words →
officer signs (visible) and agency seals, B-LT with a QR code → the signed result is archived
under a retention class → OCR gives it a text sidecar → VerifyPdf says VALID → fixity OK →
BagIt export holds originals, renditions, the signed result and its report → the audit chain
verifies.

Each step is timed and reported through ``on_step``; a failed check raises
:class:`JourneyFailed` naming the step.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import secrets
import tarfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from hoso.client import Clients, samples
from hoso.ocr.v1 import ocr_pb2 as ocr_pb
from hoso.signing.v1 import signing_pb2 as sign_pb
from hoso.signing.v1 import trust_pb2 as trust_pb
from hoso.signing.v1 import verification_pb2 as verify_pb
from hoso.signing.web.routes import verification_url
from hoso.storage.v1 import storage_pb2 as storage_pb

__all__ = ["JourneyFailed", "JourneyInputs", "JourneyResult", "Step", "run_journey"]


class JourneyFailed(Exception):
    """A step's check failed."""

    def __init__(self, step: str, message: str) -> None:
        """Name the step and what went wrong."""
        super().__init__(f"{step}: {message}")
        self.step = step


@dataclass(frozen=True)
class Step:
    """One finished step: its name, how long it took, what it established."""

    name: str
    seconds: float
    detail: dict[str, Any]


@dataclass
class JourneyInputs:
    """What the journey uses; defaults draw sample documents."""

    scan: bytes = field(default_factory=samples.scanned_application)
    result: bytes = field(default_factory=samples.result_document)
    dossier_code: str = field(
        default_factory=lambda: f"000.00.01.H26-{time.strftime('%y%m%d')}-{secrets.token_hex(3)}"
    )
    search_query: str = "ho so dang ky"
    verification_base_url: str = ""
    """Base URL of the verification pages for the QR code; empty = the server's own."""
    retention_class: storage_pb.RetentionClass.ValueType = storage_pb.RETENTION_CLASS_TEN_YEARS
    ocr_timeout: float = 180.0
    """Seconds for an OCR job (the scan's, the signed result's) to appear and finish."""
    step_timeout: float = 180.0
    """Seconds any other step may take before the journey fails naming it."""
    pin: str = "246810"


@dataclass
class JourneyResult:
    """What the journey made, and its steps."""

    dossier: str = ""
    scan_version: str = ""
    rendition_version: str = ""
    signed_version: str = ""
    result_sidecar_version: str = ""
    verdict: str = ""
    signer_names: list[str] = field(default_factory=list)
    verification_url: str = ""
    export_members: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "dossier": self.dossier,
            "scan_version": self.scan_version,
            "rendition_version": self.rendition_version,
            "signed_version": self.signed_version,
            "result_sidecar_version": self.result_sidecar_version,
            "verdict": self.verdict,
            "signers": self.signer_names,
            "verification_url": self.verification_url,
            "steps": [
                {"name": s.name, "seconds": round(s.seconds, 4), **s.detail} for s in self.steps
            ],
        }


class _Timer:
    """Times each step and bounds it by a deadline, so a stuck service fails the journey."""

    def __init__(self, result: JourneyResult, on_step: Callable[[Step], None] | None) -> None:
        self.result, self.on_step = result, on_step

    @contextlib.asynccontextmanager
    async def step(self, name: str, timeout: float) -> AsyncIterator[dict[str, Any]]:
        """Run the block within ``timeout`` seconds; record the ``detail`` it fills in."""
        detail: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                yield detail
        except TimeoutError as e:
            raise JourneyFailed(name, f"not done within {timeout:g} s ({e or 'deadline'})") from e
        step = Step(name, time.perf_counter() - started, detail)
        self.result.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)


async def _ocr_job(
    hoso: Clients, dossier: str, version: str, step: str, timeout: float
) -> ocr_pb.Job:
    """The OCR job the archive's outbox made for ``version``, once it succeeded with a rendition."""
    (job,) = await hoso.ocr.wait_for_dossier(dossier, [version], timeout=timeout)
    state = ocr_pb.JobState.Name(job.state)
    _check(job.state == ocr_pb.JOB_STATE_SUCCEEDED, step, f"job {job.name} ended {state}")
    _check(bool(job.rendition_file_version), step, f"job {job.name} made no rendition")
    return job


def _check(ok: bool, step: str, message: str) -> None:
    if not ok:
        raise JourneyFailed(step, message)


async def _credential(hoso: Clients, profile: int, name: str, organization: str, pin: str) -> str:
    """A new credential (behind ``pin``) for the signer's certificate.

    A person or an agency holds one live certificate per profile: the first journey issues it,
    later ones (another demo run, concurrent journeys of the benchmark) bind a credential of
    their own to the same certificate.
    """
    subject = trust_pb.DistinguishedName(common_name=name, organization=organization)
    try:
        certificate = await hoso.trust.issue_certificate(subject, profile)
    except grpc.aio.AioRpcError as e:
        if e.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        live = [
            c
            for c in await hoso.trust.list_certificates(
                profile=profile,  # type: ignore[arg-type]
                state=trust_pb.CERTIFICATE_STATE_ACTIVE,
                subject_contains=name,
            )
            if c.subject.common_name == name and c.subject.organization == organization
        ]
        _check(bool(live), "credentials", f"{name}: {e.details()} but none is listed")
        certificate = live[0]
    credential = await hoso.trust.create_credential(
        certificate.name, owner=name, pin=pin, description=f"{name} ({organization})"
    )
    return credential.name


async def run_journey(
    hoso: Clients,
    inputs: JourneyInputs | None = None,
    *,
    on_step: Callable[[Step], None] | None = None,
) -> JourneyResult:
    """Run every step against the services behind ``hoso``; raise :class:`JourneyFailed`.

    Every step has a deadline (``inputs.ocr_timeout`` for OCR, ``inputs.step_timeout`` for the
    others): a service that never answers fails the journey naming the step, it never hangs.
    """
    inputs = inputs or JourneyInputs()
    result = JourneyResult()
    timer = _Timer(result, on_step)
    limit = inputs.step_timeout

    async with timer.step("create_dossier", limit) as detail:
        dossier = storage_pb.Dossier(
            dossier_code=inputs.dossier_code,
            procedure_code="1.001612",
            agency_code="000.00.01.H26",
            applicant_id="001190012345",
            title="Đăng ký hộ kinh doanh",
            retention_class=inputs.retention_class,
        )
        dossier.receive_time.GetCurrentTime()
        created = await hoso.archive.create_dossier(dossier)
        result.dossier = detail["dossier"] = created.name

    async with timer.step("upload_scan", limit) as detail:
        scan = await hoso.archive.put_file(
            storage_pb.PutFileHeader(
                dossier=created.name,
                filename="don-de-nghi.pdf",
                component_type=storage_pb.COMPONENT_TYPE_APPLICATION_FORM,
                declared_media_type="application/pdf",
            ),
            inputs.scan,
        )
        result.scan_version = scan.name
        detail.update(file_version=scan.name, bytes=scan.size_bytes)

    async with timer.step("ocr", inputs.ocr_timeout) as detail:
        job = await _ocr_job(hoso, created.name, scan.name, "ocr", inputs.ocr_timeout)
        _check(job.pages_done >= 1, "ocr", "no page was OCR'd")
        result.rendition_version = job.rendition_file_version
        detail.update(job=job.name, pages=job.pages_done, rendition=job.rendition_file_version)

    async with timer.step("search", limit) as detail:
        found = await hoso.ocr.search(inputs.search_query, dossier=created.name)
        hits = [r for r in found.results if r.file_version == scan.name]
        _check(bool(hits), "search", f"{inputs.search_query!r} did not find {scan.name}")
        detail.update(query=inputs.search_query, hits=len(found.results), snippet=hits[0].snippet)

    async with timer.step("credentials", limit) as detail:
        officer = await _credential(
            hoso,
            trust_pb.CERTIFICATE_PROFILE_OFFICIAL,
            "Lê Thị Ánh Tuyết",
            "UBND quận Đống Đa",
            inputs.pin,
        )
        agency = await _credential(
            hoso,
            trust_pb.CERTIFICATE_PROFILE_AGENCY_SEAL,
            "UBND quận Đống Đa",
            "UBND quận Đống Đa",
            inputs.pin,
        )
        detail.update(officer=officer, agency=agency)

    filename = "giay-chung-nhan.pdf"
    page_url = ""
    if inputs.verification_base_url:
        page_url = verification_url(inputs.verification_base_url, created.dossier_code, filename)
    async with timer.step("sign_officer", limit) as detail:
        signed_once, officer_pdf = await hoso.signing.sign_pdf(
            sign_pb.SignPdfHeader(
                credential=officer,
                consent=sign_pb.Consent(pin=inputs.pin),
                options=_officer_options(created.dossier_code, page_url),
                filename=filename,
            ),
            inputs.result,
        )
        # the QR's link (also a /Link annotation over it) opens the archived file's page
        page = page_url or verification_url("", created.dossier_code, filename)
        links = [u for u in _link_uris(officer_pdf) if u.split("?")[0].endswith(page)]
        _check(len(links) == 1, "sign_officer", f"no QR link to …{page} in the signed PDF")
        result.verification_url = links[0]
        detail.update(
            level=sign_pb.PadesLevel.Name(signed_once.level),
            field=signed_once.field_name,
            qr=links[0].split("?")[0],
        )

    async with timer.step("sign_agency_seal", limit) as detail:
        retention_name = storage_pb.RetentionClass.Name(inputs.retention_class).removeprefix(
            "RETENTION_CLASS_"
        )
        sealed, sealed_pdf = await hoso.signing.sign_pdf(
            sign_pb.SignPdfHeader(
                credential=agency,
                consent=sign_pb.Consent(pin=inputs.pin),
                options=_seal_options(),
                filename=filename,
                archive=sign_pb.ArchiveTarget(
                    dossier=created.name,
                    component_type="RESULT",
                    retention_class=retention_name,
                    filename=filename,
                ),
            ),
            officer_pdf,
        )
        detail.update(level=sign_pb.PadesLevel.Name(sealed.level))

    async with timer.step("archive_result", limit) as detail:
        if sealed.archived_file_version:
            archived = await hoso.archive.stat_file(sealed.archived_file_version)
        else:  # the signing service did not archive it itself: the DMS does
            archived = await hoso.archive.put_file(
                storage_pb.PutFileHeader(
                    dossier=created.name,
                    filename=filename,
                    component_type=storage_pb.COMPONENT_TYPE_RESULT,
                    retention_class=inputs.retention_class,
                    expected_sha256=sealed.sha256,
                ),
                sealed_pdf,
            )
        _check(archived.sha256 == sealed.sha256, "archive_result", "archived digest differs")
        _check(
            archived.retention_class == inputs.retention_class,
            "archive_result",
            f"retention is {archived.retention_class}, wanted {inputs.retention_class}",
        )
        result.signed_version = archived.name
        detail.update(
            file_version=archived.name,
            retention=storage_pb.RetentionClass.Name(archived.retention_class),
            signed=archived.signed,
        )

    async with timer.step("ocr_result", inputs.ocr_timeout) as detail:
        # the archive queues every PDF for OCR, the signed result too; waiting here makes the
        # bag below whole (a text sidecar next to the untouched signed bytes), not a race
        job = await _ocr_job(hoso, created.name, archived.name, "ocr_result", inputs.ocr_timeout)
        sidecar = await hoso.archive.stat_file(job.rendition_file_version)
        kind = storage_pb.RenditionKind.Name(sidecar.rendition_kind)
        _check(
            sidecar.rendition_kind == storage_pb.RENDITION_KIND_OCR_TEXT_SIDECAR,
            "ocr_result",
            f"the signed result's rendition is {kind}, not a text sidecar",
        )
        result.result_sidecar_version = sidecar.name
        detail.update(job=job.name, rendition=sidecar.name)

    async with timer.step("verify", limit) as detail:
        report = await hoso.verification.verify_pdf(sealed_pdf, filename=filename)
        result.verdict = verify_pb.Verdict.Name(report.verdict).removeprefix("VERDICT_")
        result.signer_names = [s.signer.subject for s in report.signatures]
        _check(
            report.verdict == verify_pb.VERDICT_VALID,
            "verify",
            f"verdict {result.verdict}: {report.human_report[:400]}",
        )
        _check(len(report.signatures) == 2, "verify", f"{len(report.signatures)} signatures, not 2")
        detail.update(verdict=result.verdict, signatures=len(report.signatures))

    async with timer.step("fixity", limit) as detail:
        fixity = await hoso.archive.verify_fixity(created.name)
        _check(fixity.ok and len(fixity.results) >= 2, "fixity", f"fixity: {fixity}")
        detail.update(checked=len(fixity.results))

    async with timer.step("export", limit) as detail:
        package = io.BytesIO()
        manifest = await hoso.archive.export_dossier(created.name, package)
        _check(manifest.verification_reports_included, "export", "no verification reports in bag")
        digests = {
            "original scan": scan.sha256,
            "OCR rendition": (await hoso.archive.stat_file(result.rendition_version)).sha256,
            "signed result": archived.sha256,
            "signed result's text sidecar": sidecar.sha256,
        }
        result.export_members = _check_bag(package.getvalue(), digests, filename)
        detail.update(files=manifest.payload_files, bytes=manifest.payload_bytes)

    async with timer.step("audit", limit) as detail:
        chain = await hoso.audit.verify_chain()
        _check(
            chain.ok,
            "audit",
            f"audit chain broken at {chain.first_broken_sequence}: {chain.reason}",
        )
        detail.update(events=chain.events_checked)
    return result


def _officer_options(dossier_code: str, verification_url: str) -> sign_pb.SignatureOptions:
    """The officer's visible signature with the QR code (empty URL: the server's own page)."""
    return sign_pb.SignatureOptions(
        level=sign_pb.PADES_LEVEL_B_LT,
        placement=sign_pb.Placement(
            new_field=sign_pb.NewFieldPlacement(
                page=1,
                rect=sign_pb.Rectangle(x1=330, y1=560, x2=530, y2=660),
                field_name="ChuKyLanhDao",
            )
        ),
        appearance=sign_pb.Appearance(
            kind=sign_pb.APPEARANCE_KIND_OFFICIAL,
            signature_image_png=samples.signature_png(),
            title="KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        ),
        qr_code=sign_pb.QrCodeOptions(
            enabled=True,
            dossier_code=dossier_code,
            procedure_code="1.001612",
            applicant_id="001190012345",
            document_name="Giấy chứng nhận đăng ký hộ kinh doanh",
            verification_url=verification_url,
        ),
        reason="Phê duyệt",
        location="Hà Nội",
    )


def _seal_options() -> sign_pb.SignatureOptions:
    """The agency's seal over the officer's signature (Decree 30 layout)."""
    return sign_pb.SignatureOptions(
        level=sign_pb.PADES_LEVEL_B_LT,
        placement=sign_pb.Placement(
            new_field=sign_pb.NewFieldPlacement(
                page=1,
                rect=sign_pb.Rectangle(x1=280, y1=570, x2=382, y2=672),
                field_name="DauCoQuan",
            )
        ),
        appearance=sign_pb.Appearance(
            kind=sign_pb.APPEARANCE_KIND_AGENCY_SEAL,
            seal_image_png=samples.seal_png(),
        ),
        reason="Đóng dấu",
        location="Hà Nội",
    )


def _link_uris(pdf: bytes) -> list[str]:
    """The URIs of the link annotations on the PDF's pages."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        return [
            str(annotation.A.URI)
            for page in document.pages
            for annotation in page.get("/Annots", [])
            if annotation.get("/Subtype") == "/Link" and "/URI" in annotation.get("/A", {})
        ]


def _check_bag(package: bytes, digests: dict[str, str], signed_filename: str) -> list[str]:
    """Check the BagIt tar holds each file (by SHA-256) and the signed result's VALID report.

    Returns the tar's member names.
    """
    with tarfile.open(fileobj=io.BytesIO(package), mode="r:*") as tar:
        names = tar.getnames()
        files = {
            name.split("/", 1)[1]: tar.extractfile(name).read()  # type: ignore[union-attr]
            for name in names
            if "/" in name and tar.getmember(name).isfile()
        }
    _check("bagit.txt" in files, "export", "bagit.txt missing from the bag")
    manifest: dict[str, str] = {}
    for line in files.get("manifest-sha256.txt", b"").decode().splitlines():
        digest, _, path = line.partition("  ")
        manifest[digest] = path
    for what, digest in digests.items():
        _check(digest in manifest, "export", f"the {what} ({digest[:12]}…) is not in the bag")
    signed_path = manifest[digests["signed result"]]
    _check(
        signed_path.endswith(signed_filename),
        "export",
        f"signed result at {signed_path}",
    )
    report_name = f"metadata/verification/{signed_path.removeprefix('data/')}.json"
    _check(report_name in files, "export", f"{report_name} missing from the bag")
    verdict = json.loads(files[report_name])["ValidationReport"]["DocumentVerdict"]
    _check(verdict == "VALID", "export", f"the bag's report of {signed_path} says {verdict}")
    return names
