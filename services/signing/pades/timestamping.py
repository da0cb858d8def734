"""Time-stamp authorities in order of preference, failing over to the next one.

A TSA that cannot be reached never turns a B-T request into a B-B signature: when every
configured authority fails, signing stops with ``UNAVAILABLE``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from asn1crypto import tsp
from hoso.common.errors import Unavailable
from pyhanko.sign.timestamps.api import TimeStamper

__all__ = ["FallbackTimeStamper", "http_timestamper"]

_log = logging.getLogger(__name__)


class FallbackTimeStamper(TimeStamper):
    """Asks each time-stamper in turn; the first answer wins.

    Args:
        stampers: authorities in order of preference (in-process first, then external URLs).
    """

    def __init__(self, stampers: Sequence[TimeStamper]) -> None:
        super().__init__(include_nonce=True)
        if not stampers:
            raise Unavailable("no time-stamp authority is configured; B-T and above need one")
        self._stampers = list(stampers)

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        """Forward the request, failing over; raises ``Unavailable`` when all fail."""
        failures: list[str] = []
        for stamper in self._stampers:
            try:
                response = await stamper.async_request_tsa_response(req)
            except Exception as exc:  # any transport or protocol failure means "try the next"
                _log.warning("time-stamp authority %s failed: %s", _describe(stamper), exc)
                failures.append(f"{_describe(stamper)}: {exc}")
                continue
            status = response["status"]["status"].native
            if status in ("granted", "granted_with_mods"):
                return response
            failures.append(f"{_describe(stamper)}: status {status}")
        raise Unavailable(
            "no time-stamp authority answered (" + "; ".join(failures) + "); retry later or "
            "ask for level B-B explicitly"
        )


def _describe(stamper: TimeStamper) -> str:
    return getattr(stamper, "url", None) or type(stamper).__name__


def http_timestamper(url: str, timeout_seconds: float) -> TimeStamper:
    """An RFC 3161 client for an external TSA URL (pyHanko's aiohttp client).

    Without a shared session the client opens and closes one per request, which keeps it
    usable from any event loop (the service's, a CLI's, a test's).
    """
    from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper

    return HTTPTimeStamper(url, timeout=timeout_seconds)
