"""Revocation data and certificates a document carries, and timestamp times read ahead.

Gathered once per document (the DSS) or per signature (CMS ``adbe-revocationInfoArchival``),
so every signature is validated offline with what the file itself brings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import cms, tsp
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError

__all__ = ["Evidence", "cms_evidence", "dss_evidence", "timestamp_time"]


@dataclass
class Evidence:
    """Certificates and revocation data from one source."""

    certs: list[asn1_x509.Certificate] = field(default_factory=list)
    crls: list[asn1_crl.CertificateList] = field(default_factory=list)
    ocsps: list[asn1_ocsp.OCSPResponse] = field(default_factory=list)

    @property
    def has_revocation_data(self) -> bool:
        return bool(self.crls or self.ocsps)

    def __add__(self, other: Evidence) -> Evidence:
        return Evidence(self.certs + other.certs, self.crls + other.crls, self.ocsps + other.ocsps)


def dss_evidence(reader: PdfFileReader) -> Evidence:
    """What the document security store holds (empty when there is none or it is unreadable)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        certs = list(dss.load_certs())
    except NoDSSFoundError:
        return Evidence()
    except Exception:  # a damaged DSS is no evidence; the signature may still stand on its own
        return Evidence()
    return Evidence(certs=certs, crls=_crls(dss), ocsps=_ocsps(dss))


def _crls(dss: DocumentSecurityStore) -> list[asn1_crl.CertificateList]:
    out = []
    for ref in dss.crls:
        try:
            out.append(asn1_crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)))
        except Exception:
            continue
    return out


def _ocsps(dss: DocumentSecurityStore) -> list[asn1_ocsp.OCSPResponse]:
    out = []
    for ref in dss.ocsps:
        try:
            data = ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE)
            out.append(asn1_ocsp.OCSPResponse.load(data))
        except Exception:
            continue
    return out


def cms_evidence(signer_info: cms.SignerInfo, signed_data: cms.SignedData) -> Evidence:
    """Certificates of the CMS and revocation data in its Adobe revocation attribute."""
    certs = [c.chosen for c in (signed_data["certificates"] or []) if c.name == "certificate"]
    crls: list[asn1_crl.CertificateList] = []
    ocsps: list[asn1_ocsp.OCSPResponse] = []
    for attr in signer_info["signed_attrs"] or []:
        if attr["type"].native != "adobe_revocation_info_archival":
            continue
        for value in attr["values"]:
            crls += list(value["crl"] or [])
            ocsps += list(value["ocsp"] or [])
    return Evidence(certs=certs, crls=crls, ocsps=ocsps)


def timestamp_time(signer_info: cms.SignerInfo) -> dt.datetime | None:
    """The genTime of the signature timestamp token, read without validating it."""
    for attr in signer_info["unsigned_attrs"] or []:
        if attr["type"].native != "signature_time_stamp_token":
            continue
        try:
            token = attr["values"][0]
            tst_info = token["content"]["encap_content_info"]["content"].parsed
            assert isinstance(tst_info, tsp.TSTInfo)
            return tst_info["gen_time"].native
        except Exception:
            return None
    return None
