"""hoso.client: small typed clients for the hoso services.

``Clients(channel)`` bundles one client per service over a channel from
:func:`hoso.client.channel.connect`::

    async with Clients.connect(default_config()) as hoso:
        dossier = await hoso.archive.create_dossier(...)
"""

from __future__ import annotations

from types import TracebackType

import grpc
from hoso.client.audit import AuditClient
from hoso.client.channel import ClientConfig, connect, default_config
from hoso.client.ocr import OcrClient
from hoso.client.signing import SigningClient, TrustClient, VerificationClient
from hoso.client.storage import ArchiveClient

__all__ = [
    "ArchiveClient",
    "AuditClient",
    "Clients",
    "OcrClient",
    "SigningClient",
    "TrustClient",
    "VerificationClient",
    "connect",
    "default_config",
]


class Clients:
    """One client per service over one channel."""

    def __init__(self, channel: grpc.aio.Channel, *, owns_channel: bool = False) -> None:
        """Wrap ``channel``; with ``owns_channel`` it is closed on exit."""
        self.channel = channel
        self._owns_channel = owns_channel
        self.archive = ArchiveClient(channel)
        self.signing = SigningClient(channel)
        self.verification = VerificationClient(channel)
        self.trust = TrustClient(channel)
        self.ocr = OcrClient(channel)
        self.audit = AuditClient(channel)

    @classmethod
    def connect(cls, config: ClientConfig) -> Clients:
        """Open a channel for ``config`` (closed when the ``async with`` block ends)."""
        return cls(connect(config), owns_channel=True)

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._owns_channel:
            await self.channel.close()
