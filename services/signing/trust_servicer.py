"""gRPC layer of the trust services: ``hoso.signing.v1.TrustService``.

Translates messages to the use cases of :mod:`hoso.signing.trust.service` and
:mod:`hoso.signing.trust.consent` and back; errors are ``hoso.common.errors`` exceptions,
mapped to status codes by the common interceptor.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hoso.common.errors import InvalidArgument
from hoso.common.paging import decode_token, encode_token, page_size
from hoso.common.protoconv import to_timestamp
from hoso.signing.keystore.api import KeyAlgorithm
from hoso.signing.models import SigningCertificate, SigningCredential
from hoso.signing.trust.authority import Authority
from hoso.signing.trust.names import SubjectName, name_to_subject
from hoso.signing.trust.profiles import Profile
from hoso.signing.v1 import trust_pb2 as _pb
from hoso.signing.v1 import trust_pb2_grpc as _pb_grpc
from sqlalchemy import select

__all__ = ["TrustServicer"]

_PROFILE_IN = {
    _pb.CERTIFICATE_PROFILE_OFFICIAL: Profile.OFFICIAL,
    _pb.CERTIFICATE_PROFILE_AGENCY_SEAL: Profile.AGENCY_SEAL,
    _pb.CERTIFICATE_PROFILE_TSA: Profile.TSA,
    _pb.CERTIFICATE_PROFILE_OCSP_RESPONDER: Profile.OCSP_RESPONDER,
}
_PROFILE_OUT = {v.value: k for k, v in _PROFILE_IN.items()}
_ALGORITHM_IN = {
    _pb.KEY_ALGORITHM_RSA_2048: KeyAlgorithm.RSA_2048,
    _pb.KEY_ALGORITHM_RSA_3072: KeyAlgorithm.RSA_3072,
    _pb.KEY_ALGORITHM_EC_P256: KeyAlgorithm.EC_P256,
    _pb.KEY_ALGORITHM_EC_P384: KeyAlgorithm.EC_P384,
}
_ALGORITHM_OUT = {v.value: k for k, v in _ALGORITHM_IN.items()}
_STATE_OUT = {
    "ACTIVE": _pb.CERTIFICATE_STATE_ACTIVE,
    "REVOKED": _pb.CERTIFICATE_STATE_REVOKED,
    "SUSPENDED": _pb.CERTIFICATE_STATE_SUSPENDED,
}
_STATE_IN = {v: k for k, v in _STATE_OUT.items()}
_KEY_STORE_OUT = {
    "SOFTWARE": _pb.KEY_STORE_SOFTWARE,
    "PKCS11": _pb.KEY_STORE_PKCS11,
    "EXTERNAL": _pb.KEY_STORE_EXTERNAL,
}
_REASON_IN = {
    _pb.REVOCATION_REASON_UNSPECIFIED_REASON: "unspecified",
    _pb.REVOCATION_REASON_KEY_COMPROMISE: "key_compromise",
    _pb.REVOCATION_REASON_CA_COMPROMISE: "ca_compromise",
    _pb.REVOCATION_REASON_AFFILIATION_CHANGED: "affiliation_changed",
    _pb.REVOCATION_REASON_SUPERSEDED: "superseded",
    _pb.REVOCATION_REASON_CESSATION_OF_OPERATION: "cessation_of_operation",
    _pb.REVOCATION_REASON_CERTIFICATE_HOLD: "certificate_hold",
    _pb.REVOCATION_REASON_PRIVILEGE_WITHDRAWN: "privilege_withdrawn",
    _pb.REVOCATION_REASON_AA_COMPROMISE: "aa_compromise",
}
_REASON_OUT = {v: k for k, v in _REASON_IN.items()}
_CREDENTIAL_STATE_OUT = {
    "ACTIVE": _pb.CREDENTIAL_STATE_ACTIVE,
    "LOCKED": _pb.CREDENTIAL_STATE_LOCKED,
    "DISABLED": _pb.CREDENTIAL_STATE_DISABLED,
}


def _serial_of(name: str, field: str = "name") -> str:
    prefix = "certificates/"
    if not name.startswith(prefix) or not name[len(prefix) :]:
        raise InvalidArgument(f"{field} must be certificates/{{serial_hex}}", field=field)
    serial = name[len(prefix) :].lower()
    try:
        int(serial, 16)
    except ValueError as e:
        raise InvalidArgument(f"{field}: serial must be hexadecimal", field=field) from e
    return serial.lstrip("0") or "0"


def _credential_of(name: str, field: str = "name") -> str:
    prefix = "credentials/"
    if not name.startswith(prefix) or not name[len(prefix) :]:
        raise InvalidArgument(f"{field} must be credentials/{{credential_id}}", field=field)
    return name[len(prefix) :]


def _dn(name: x509.Name) -> _pb.DistinguishedName:
    subject = name_to_subject(name)
    return _pb.DistinguishedName(rfc4514=name.rfc4514_string(), **subject.__dict__)


def _subject_in(dn: _pb.DistinguishedName) -> SubjectName | None:
    fields = {
        key: getattr(dn, key)
        for key in (
            "common_name",
            "organization",
            "organizational_unit",
            "locality",
            "province",
            "country",
            "email",
            "personal_id",
            "tax_code",
        )
    }
    if not any(fields.values()):
        return None
    return SubjectName.create(**fields)


def certificate_message(row: SigningCertificate) -> _pb.Certificate:
    """The API view of a catalog row (EXPIRED computed now)."""
    certificate = x509.load_der_x509_certificate(row.der)
    state = _STATE_OUT.get(row.state, _pb.CERTIFICATE_STATE_UNSPECIFIED)
    if state == _pb.CERTIFICATE_STATE_ACTIVE and row.not_after <= dt.datetime.now(dt.UTC):
        state = _pb.CERTIFICATE_STATE_EXPIRED
    message = _pb.Certificate(
        name=f"certificates/{row.serial_hex}",
        serial_hex=row.serial_hex,
        subject=_dn(certificate.subject),
        issuer=_dn(certificate.issuer),
        not_before=to_timestamp(row.not_before),
        not_after=to_timestamp(row.not_after),
        profile=_PROFILE_OUT.get(row.profile, _pb.CERTIFICATE_PROFILE_UNSPECIFIED),
        state=state,
        revocation_reason=_REASON_OUT.get(row.revocation_reason or "", 0),
        key_algorithm=_ALGORITHM_OUT.get(row.key_algorithm, 0),
        key_store=_KEY_STORE_OUT.get(row.key_store, 0),
        key_id=row.key_id or "",
        der=row.der,
        sha256_fingerprint=row.sha256,
        renewed_from=f"certificates/{row.renewed_from}" if row.renewed_from else "",
        create_time=to_timestamp(row.created_at),
    )
    if row.revocation_time is not None:
        message.revocation_time.CopyFrom(to_timestamp(row.revocation_time))
    return message


class TrustServicer(_pb_grpc.TrustServiceServicer):
    """``TrustService`` over the trust components built by :func:`hoso.signing.service.build`."""

    def __init__(self, trust: Any) -> None:
        self.trust = trust
        self.services = trust.services
        self.consents = trust.consents

    async def _chain_pem(self) -> str:
        return (await self.services.authority()).chain_pem()

    async def _authority_messages(self, authority: Authority) -> tuple[Any, Any]:
        """The Certificate messages of the authority's root and issuing certificates."""
        async with self.services.sessions() as session:
            root = await self.services.get(
                session, format(authority.root.certificate.serial_number, "x")
            )
            issuing = await self.services.get(
                session, format(authority.issuing.certificate.serial_number, "x")
            )
        return certificate_message(root), certificate_message(issuing)

    async def GetCertificateAuthority(self, request: Any, context: Any) -> Any:
        authority = await self.services.authority()
        urls = self.services.pki_urls
        root, issuing = await self._authority_messages(authority)
        return _pb.GetCertificateAuthorityResponse(
            root_certificate=root,
            issuing_certificate=issuing,
            chain_pem=authority.chain_pem(),
            crl_urls=[urls["crl"]],
            ocsp_urls=[urls["ocsp"]],
            ca_issuers_url=urls["ca_issuers"],
            tsa_url=urls["tsa"],
        )

    async def ImportCertificateAuthority(self, request: Any, context: Any) -> Any:
        authority = await self.services.import_authority(
            root_certificate=request.root_certificate,
            issuing_certificate=request.issuing_certificate,
            issuing_private_key=request.issuing_private_key,
            passphrase=request.private_key_passphrase or None,
            key_id=request.key_id,
            replace=request.replace,
        )
        root, issuing = await self._authority_messages(authority)
        return _pb.ImportCertificateAuthorityResponse(
            root_certificate=root, issuing_certificate=issuing
        )

    async def IssueCertificate(self, request: Any, context: Any) -> Any:
        profile = _PROFILE_IN.get(request.profile)
        if profile is None:
            raise InvalidArgument(
                "profile must be OFFICIAL, AGENCY_SEAL, TSA or OCSP_RESPONDER", field="profile"
            )
        source = request.WhichOneof("key_source")
        if source is None:
            raise InvalidArgument("give csr or generated_key", field="key_source")
        csr = request.csr.csr if source == "csr" else None
        algorithm = None
        if source == "generated_key":
            algorithm = _ALGORITHM_IN.get(request.generated_key.key_algorithm)
            if algorithm is None:
                raise InvalidArgument(
                    "generated_key.key_algorithm must be RSA_2048, RSA_3072, EC_P256 or EC_P384",
                    field="generated_key.key_algorithm",
                )
        if source == "csr" and not csr:
            raise InvalidArgument("csr.csr is empty: send a PKCS#10 request", field="csr.csr")
        subject = _subject_in(request.subject)
        if request.validity_days < 0:
            raise InvalidArgument("validity_days must be positive", field="validity_days")
        async with self.services.sessions() as session:
            row = await self.services.issue(
                session,
                profile=profile,
                subject=subject,
                csr=csr,
                key_algorithm=algorithm,
                validity_days=request.validity_days or None,
                request_id=request.request_id or None,
            )
        return _pb.IssueCertificateResponse(
            certificate=certificate_message(row), chain_pem=await self._chain_pem()
        )

    async def GetCertificate(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.name)
        async with self.services.sessions() as session:
            row = await self.services.get(session, serial)
        return _pb.GetCertificateResponse(certificate=certificate_message(row))

    async def ListCertificates(self, request: Any, context: Any) -> Any:
        size = page_size(request.page_size)
        position = decode_token(request.page_token) or {}
        after = position.get("after")
        if after is not None and not isinstance(after, str):
            raise InvalidArgument("page_token is not one this server issued", field="page_token")
        profile = _PROFILE_IN.get(request.profile) if request.profile else None
        state = _STATE_IN.get(request.state) if request.state else None
        if request.state == _pb.CERTIFICATE_STATE_EXPIRED:
            raise InvalidArgument("filter EXPIRED by not_after instead", field="state")
        from hoso.signing.trust.repository import CertificateRepository

        async with self.services.sessions() as session:
            rows = await CertificateRepository(session).page(
                profile=profile,
                state=state,
                subject_contains=request.subject_contains or None,
                after_serial=after,
                limit=size + 1,
            )
        more = len(rows) > size
        rows = rows[:size]
        return _pb.ListCertificatesResponse(
            certificates=[certificate_message(row) for row in rows],
            next_page_token=encode_token({"after": rows[-1].serial_hex}) if more else "",
        )

    async def RenewCertificate(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.name)
        csr = request.csr.csr if request.HasField("csr") else None
        async with self.services.sessions() as session:
            row = await self.services.renew(
                session,
                serial,
                csr=csr or None,
                validity_days=request.validity_days or None,
                request_id=request.request_id or None,
            )
        return _pb.RenewCertificateResponse(
            certificate=certificate_message(row), chain_pem=await self._chain_pem()
        )

    async def RevokeCertificate(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.name)
        reason = _REASON_IN.get(request.reason)
        if reason is None:
            raise InvalidArgument(
                "reason is required (e.g. KEY_COMPROMISE, SUPERSEDED)", field="reason"
            )
        async with self.services.sessions() as session:
            row = await self.services.revoke(session, serial, reason)
        return _pb.RevokeCertificateResponse(certificate=certificate_message(row))

    async def SuspendCertificate(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.name)
        async with self.services.sessions() as session:
            row = await self.services.suspend(session, serial)
        return _pb.SuspendCertificateResponse(certificate=certificate_message(row))

    async def UnsuspendCertificate(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.name)
        async with self.services.sessions() as session:
            row = await self.services.unsuspend(session, serial)
        return _pb.UnsuspendCertificateResponse(certificate=certificate_message(row))

    def _credential_message(self, row: SigningCredential, cert: SigningCertificate) -> Any:
        return _pb.Credential(
            name=f"credentials/{row.credential_id}",
            owner=row.owner,
            description=row.description,
            certificate=f"certificates/{row.certificate_serial_hex}",
            state=_CREDENTIAL_STATE_OUT.get(row.state, 0),
            key_algorithm=_ALGORITHM_OUT.get(cert.key_algorithm, 0),
            key_store=_KEY_STORE_OUT.get(cert.key_store, 0),
            failed_pin_attempts=row.failed_attempts,
            max_pin_attempts=self.consents.settings.pin_max_attempts,
            create_time=to_timestamp(row.created_at),
            update_time=to_timestamp(row.updated_at),
        )

    async def CreateCredential(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.certificate, "certificate")
        async with self.services.sessions() as session:
            row = await self.consents.create(
                session,
                certificate_serial=serial,
                owner=request.owner,
                pin=request.pin,
                description=request.description,
            )
            cert = await self.services.get(session, serial)
            return _pb.CreateCredentialResponse(credential=self._credential_message(row, cert))

    async def GetCredential(self, request: Any, context: Any) -> Any:
        credential_id = _credential_of(request.name)
        async with self.services.sessions() as session:
            row = await self.consents.get(session, credential_id)
            cert = await self.services.get(session, row.certificate_serial_hex)
            return _pb.GetCredentialResponse(credential=self._credential_message(row, cert))

    async def ListCredentials(self, request: Any, context: Any) -> Any:
        size = page_size(request.page_size)
        position = decode_token(request.page_token) or {}
        statement = select(SigningCredential).order_by(SigningCredential.credential_id)
        if request.owner:
            statement = statement.where(SigningCredential.owner == request.owner)
        if position.get("after"):
            statement = statement.where(SigningCredential.credential_id > str(position["after"]))
        async with self.services.sessions() as session:
            rows = list((await session.execute(statement.limit(size + 1))).scalars())
            more = len(rows) > size
            rows = rows[:size]
            messages = [
                self._credential_message(
                    row, await self.services.get(session, row.certificate_serial_hex)
                )
                for row in rows
            ]
        return _pb.ListCredentialsResponse(
            credentials=messages,
            next_page_token=encode_token({"after": rows[-1].credential_id}) if more else "",
        )

    async def AuthorizeCredential(self, request: Any, context: Any) -> Any:
        credential_id = _credential_of(request.name)
        digests = []
        for index, item in enumerate(request.digests):
            if item.algorithm not in (0, _pb.DIGEST_ALGORITHM_SHA256):
                raise InvalidArgument(
                    "consent binds SHA-256 digests only", field=f"digests[{index}].algorithm"
                )
            digests.append(item.value)
        async with self.services.sessions() as session:
            token, expires = await self.consents.authorize(
                session, credential_id, request.pin, digests
            )
        return _pb.AuthorizeCredentialResponse(
            sad=token, expire_time=to_timestamp(expires), signatures_allowed=len(set(digests))
        )

    async def ChangeCredentialPin(self, request: Any, context: Any) -> Any:
        credential_id = _credential_of(request.name)
        async with self.services.sessions() as session:
            row = await self.consents.change_pin(
                session, credential_id, request.current_pin, request.new_pin
            )
            cert = await self.services.get(session, row.certificate_serial_hex)
            return _pb.ChangeCredentialPinResponse(credential=self._credential_message(row, cert))

    async def ExportCertificate(self, request: Any, context: Any) -> Any:
        serial = _serial_of(request.name)
        async with self.services.sessions() as session:
            row = await self.services.get(session, serial)
        certificate = x509.load_der_x509_certificate(row.der)
        if request.format == _pb.CERTIFICATE_FORMAT_DER:
            if request.include_chain:
                raise InvalidArgument(
                    "DER holds one certificate; use PEM for a chain", field="include_chain"
                )
            return _pb.ExportCertificateResponse(
                content=row.der, media_type="application/pkix-cert", filename=f"{serial}.cer"
            )
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        if request.include_chain:
            pem += await self._chain_pem()
        return _pb.ExportCertificateResponse(
            content=pem.encode(), media_type="application/x-pem-file", filename=f"{serial}.pem"
        )
