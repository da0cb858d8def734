"""Signature verification reports for exports, from the signing service's VerificationService.

In the embedded deployment (``hoso serve all``) the signing service runs in this process and is
reached through :meth:`Runtime.loopback_channel`; ``storage.signing_endpoint`` points at a
separate signing deployment instead (the call then carries the client token of
``hoso.client.channel.default_config``: ``HOSO_CLIENT_TOKEN``). When neither answers, the export
goes on without reports and says so in ``bag-info.txt``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

__all__ = ["VerificationFiles", "make_verifier"]

_PIECE = 1024 * 1024
_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class VerificationFiles:
    """The two renderings of one PDF's verification report."""

    json_report: str
    """The ETSI-shaped JSON report."""
    human_report: str
    """The text report for people (Vietnamese)."""
    verdict: str


def make_verifier(runtime: Any, signing_endpoint: str | None) -> Any:
    """A :data:`hoso.storage.export.Verifier` calling VerificationService.VerifyPdf."""
    from hoso.signing.v1 import verification_pb2 as _vpb
    from hoso.signing.v1 import verification_pb2_grpc as _vpb_grpc

    state: dict[str, Any] = {}

    def channel() -> Any:
        if "channel" not in state:
            if signing_endpoint:
                from hoso.client.channel import connect, default_config

                state["channel"] = connect(default_config(address=signing_endpoint))
            else:
                state["channel"] = runtime.loopback_channel()
        return state["channel"]

    async def verify(path: str, chunks: AsyncIterator[bytes]) -> VerificationFiles:
        async def requests() -> AsyncIterator[Any]:
            yield _vpb.VerifyPdfRequest(
                header=_vpb.VerifyPdfHeader(
                    filename=path.rsplit("/", 1)[-1], language=_vpb.REPORT_LANGUAGE_VI
                )
            )
            async for chunk in chunks:
                for start in range(0, len(chunk), _PIECE):
                    yield _vpb.VerifyPdfRequest(chunk=chunk[start : start + _PIECE])

        stub = _vpb_grpc.VerificationServiceStub(channel())
        response = await stub.VerifyPdf(requests(), timeout=_TIMEOUT_SECONDS)
        report = response.report
        return VerificationFiles(
            json_report=report.json_report,
            human_report=report.human_report,
            verdict=_vpb.Verdict.Name(report.verdict),
        )

    return verify
