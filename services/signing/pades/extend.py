"""ExtendSignature: raise the signatures of a signed PDF to B-LT or B-LTA.

Validation data (certificates, OCSP, CRLs) for every signature and its time-stamp goes into
the DSS in an incremental update; B-LTA then adds a document time-stamp over it all.
"""

from __future__ import annotations

import tempfile
from typing import IO

from hoso.common.errors import FailedPrecondition, InvalidArgument
from hoso.signing.pades.engine import PadesEngine
from hoso.signing.pades.inputs import SpooledDocument, open_pdf
from hoso.signing.pades.levels import SignatureLevel
from hoso.signing.pades.revocation import validation_context
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import async_add_validation_info

__all__ = ["extend_signatures"]


async def extend_signatures(
    engine: PadesEngine, document: SpooledDocument, target: SignatureLevel, output: IO[bytes]
) -> int:
    """Add LT (and LTA) data to every signature of ``document``, writing to ``output``.

    Returns:
        The number of signatures extended.

    Raises:
        InvalidArgument: the target is not B-LT/B-LTA, or the PDF has no signatures.
        FailedPrecondition: a signature does not validate (it cannot be extended).
        Unavailable: the TSA or the revocation source is down.
    """
    if not target.needs_validation_data:
        raise InvalidArgument("target_level must be B-LT or B-LTA", field="target_level")
    reader = open_pdf(document.file)
    signatures = reader.embedded_regular_signatures
    if not signatures:
        raise InvalidArgument("the PDF carries no signature to extend", field="document")
    certs = []
    for signature in signatures:
        certs.append(signature.signer_cert)
        certs.extend(signature.other_embedded_certs)
    certs.extend(await engine.tsa_certificates())
    context = await validation_context(engine.env, certs)
    for signature in signatures:
        status = await async_validate_pdf_signature(signature, context)
        if not (status.intact and status.valid and status.trusted):
            raise FailedPrecondition(
                f"signature {signature.field_name!r} does not validate "
                f"({status.summary()}); it cannot be extended"
            )
    current: IO[bytes] = document.file
    for index in range(len(signatures)):
        current.seek(0)
        signature = PdfFileReader(current, strict=False).embedded_regular_signatures[index]
        step = tempfile.TemporaryFile()  # noqa: SIM115 - closed below once superseded
        await async_add_validation_info(signature, context, output=step)
        if current is not document.file:
            current.close()
        current = step
    current.seek(0)
    if target.needs_archive_timestamp:
        writer = IncrementalPdfFileWriter(current, strict=False)
        stamper = PdfTimeStamper(engine.timestamper)
        await stamper.async_timestamp_pdf(writer, "sha256", context, output=output)
    else:
        while chunk := current.read(1024 * 1024):
            output.write(chunk)
    if current is not document.file:
        current.close()
    output.seek(0)
    return len(signatures)
