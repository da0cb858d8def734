"""Identity and permissions, without a server."""

from __future__ import annotations

import pytest
from hoso.common.auth import Authenticator, Caller, token_digest
from hoso.common.errors import PermissionDenied, Unauthenticated
from hoso.common.settings import AuthSettings, CallerSettings

SIGN = "/hoso.signing.v1.SigningService/SignPdf"
VERIFY = "/hoso.signing.v1.VerificationService/VerifyPdf"
HEALTH = "/grpc.health.v1.Health/Check"


def _authenticator() -> Authenticator:
    return Authenticator(
        AuthSettings(
            callers={
                "qlvb": CallerSettings(roles=["dms"], token_sha256=token_digest("dms-secret")),
                "kiem-toan": CallerSettings(roles=["auditor"], client_cert_cn="auditor.gov.vn"),
                "custom": CallerSettings(roles=["reader"], token_sha256=token_digest("r")),
            },
            roles={"reader": ["hoso.storage.v1.ArchiveService/Get*"]},
        )
    )


def test_bearer_token_identifies_and_grants() -> None:
    caller = _authenticator().authorize([("authorization", "Bearer dms-secret")], [], SIGN)
    assert caller == Caller("qlvb", frozenset({"dms"}))


def test_client_certificate_identifies() -> None:
    caller = _authenticator().authorize([], ["auditor.gov.vn"], VERIFY)
    assert caller.name == "kiem-toan"


def test_auditor_may_verify_but_not_sign() -> None:
    with pytest.raises(PermissionDenied, match="SignPdf"):
        _authenticator().authorize([], ["auditor.gov.vn"], SIGN)


def test_custom_role_patterns() -> None:
    auth = _authenticator()
    assert auth.authorize(
        [("authorization", "Bearer r")], [], "/hoso.storage.v1.ArchiveService/GetFile"
    )
    with pytest.raises(PermissionDenied):
        auth.authorize(
            [("authorization", "Bearer r")], [], "/hoso.storage.v1.ArchiveService/PutFile"
        )


@pytest.mark.parametrize(
    ("metadata", "peers", "message"),
    [
        ([], [], "no credentials"),
        ([("authorization", "Bearer wrong")], [], "unknown bearer token"),
        ([("authorization", "Basic abc")], [], "Bearer"),
        ([], ["stranger.example"], "not a known caller"),
    ],
)
def test_unauthenticated(metadata: list[tuple[str, str]], peers: list[str], message: str) -> None:
    with pytest.raises(Unauthenticated, match=message):
        _authenticator().authorize(metadata, peers, SIGN)


def test_health_is_open_to_anyone() -> None:
    assert _authenticator().authorize([], [], HEALTH).name == "anonymous"


def test_unknown_role_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown roles: nope"):
        Authenticator(AuthSettings(callers={"x": CallerSettings(roles=["nope"])}))
