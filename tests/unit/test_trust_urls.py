"""URLs written into certificates: explicit public_base_url, or the HTTP listener's own."""

from __future__ import annotations

import pytest
from hoso.common.settings import ServerSettings
from hoso.signing.settings import SigningSettings


@pytest.mark.parametrize(
    ("host", "public_base_url", "bound_port", "expected"),
    [
        ("127.0.0.1", "", 41234, "http://127.0.0.1:41234"),
        ("0.0.0.0", "", 8080, "http://127.0.0.1:8080"),
        ("::", "", 8443, "http://[::1]:8443"),
        ("fd00::5", "", 80, "http://[fd00::5]:80"),
        ("0.0.0.0", "https://hoso.example.gov.vn/", 41234, "https://hoso.example.gov.vn"),
    ],
)
def test_effective_public_base_url(
    host: str, public_base_url: str, bound_port: int, expected: str
) -> None:
    server = ServerSettings(host=host, http_port=0, public_base_url=public_base_url)
    assert server.effective_public_base_url(bound_port) == expected


def test_configured_port_is_used_before_binding() -> None:
    server = ServerSettings(http_port=9090)
    assert server.public_base_url == ""  # the default derives from the listener
    urls = SigningSettings.pki_urls(server.effective_public_base_url())
    assert urls["ocsp"] == "http://127.0.0.1:9090/pki/ocsp"
    assert urls["crl"] == "http://127.0.0.1:9090/pki/issuing.crl"
