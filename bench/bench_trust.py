"""Benchmark the trust services: issuance/s, OCSP answers/s, timestamps/s.

Each figure is printed beside the raw ``cryptography`` signing rate with the same key type,
measured in the same run (the floor every operation pays once). Runs in process on a fresh
SQLite catalog with software keys (CA and responders: EC P-384 / P-256 defaults).

Usage: ``.venv/bin/python bench/bench_trust.py [--n 200]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from asn1crypto import ocsp, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 3),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3),
    }


async def _rate(n: int, step) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    samples = []
    start = time.monotonic()
    for i in range(n):
        t0 = time.monotonic()
        await step(i)
        samples.append(time.monotonic() - t0)
    return n / (time.monotonic() - start), _percentiles(samples)


async def main(n: int) -> dict[str, object]:
    from hoso.common import audit as _audit  # noqa: F401 -- registers the audit table
    from hoso.common.config import load_settings
    from hoso.common.db import Base, create_engine
    from hoso.common.runtime import Runtime
    from hoso.signing.keystore.software import SoftwareKeyStore
    from hoso.signing.trust.ocsp import cert_id_for
    from hoso.signing.trust.profiles import Profile
    from hoso.signing.trust.service import TrustServices

    data_dir = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    settings = load_settings(
        env={},
        overrides={"server": {"data_dir": str(data_dir)}, "signing": {"key_passphrase": "b"}},
    )
    engine = create_engine(f"sqlite:///{data_dir / 'bench.sqlite3'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    runtime = Runtime(settings, engine=engine)
    keystore = SoftwareKeyStore(data_dir / "keys", "b")
    services = TrustServices(
        sessions=runtime.session,
        keystore=keystore,
        settings=settings.section("signing"),
        public_base_url="http://127.0.0.1:8080",
        audit=runtime.audit,
    )
    authority = await services.authority()

    # Baseline: raw cryptography signatures with the issuing CA's key type (P-384) and the
    # responders' (P-256), over a TBS-sized message.
    message = os.urandom(600)
    p384 = ec.generate_private_key(ec.SECP384R1())
    p256 = ec.generate_private_key(ec.SECP256R1())

    async def raw384(_: int) -> None:
        p384.sign(message, ec.ECDSA(hashes.SHA256()))

    async def raw256(_: int) -> None:
        p256.sign(message, ec.ECDSA(hashes.SHA256()))

    raw384_rate, _ = await _rate(n * 5, raw384)
    raw256_rate, _ = await _rate(n * 5, raw256)

    subject_key = ec.generate_private_key(ec.SECP256R1())
    csrs = [
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Cán bộ {i}")]))
        .sign(subject_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
        for i in range(n)
    ]

    async def issue(i: int) -> None:
        async with runtime.session() as session:
            await services.issue(session, profile=Profile.OFFICIAL, subject=None, csr=csrs[i])

    issue_rate, issue_lat = await _rate(n, issue)

    issuing = authority.issuing.certificate
    from hoso.signing.trust.authority import to_asn1

    request = ocsp.OCSPRequest(
        {"tbs_request": {"request_list": [{"req_cert": cert_id_for(12345, to_asn1(issuing))}]}}
    ).dump()

    async def answer(_: int) -> None:
        await services.answer_ocsp(request)

    ocsp_rate, ocsp_lat = await _rate(n, answer)

    tsa = await services.timestamp_authority()
    tsq = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(b"x").digest(),
            },
            "nonce": 42,
            "cert_req": True,
        }
    ).dump()

    async def stamp(_: int) -> None:
        await tsa.respond_der(tsq)

    tsa_rate, tsa_lat = await _rate(n, stamp)
    await keystore.close()
    await runtime.close()
    return {
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version()},
        "n": n,
        "raw_sign_per_s": {"ec_p384": round(raw384_rate, 1), "ec_p256": round(raw256_rate, 1)},
        "issuance_per_s": round(issue_rate, 1),
        "issuance": issue_lat,
        "issuance_vs_raw_p384": round(issue_rate / raw384_rate, 4),
        "ocsp_per_s": round(ocsp_rate, 1),
        "ocsp": ocsp_lat,
        "ocsp_vs_raw_p256": round(ocsp_rate / raw256_rate, 4),
        "timestamps_per_s": round(tsa_rate, 1),
        "timestamps": tsa_lat,
        "timestamps_vs_raw_p256": round(tsa_rate / raw256_rate, 4),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="operations per measurement")
    figures = asyncio.run(main(parser.parse_args().n))
    print(f"raw cryptography sign/s: {figures['raw_sign_per_s']}")
    print(f"issuance/s (CSR, catalog + audit): {figures['issuance_per_s']} {figures['issuance']}")
    print(f"OCSP answers/s: {figures['ocsp_per_s']} {figures['ocsp']}")
    print(f"timestamps/s: {figures['timestamps_per_s']} {figures['timestamps']}")
    print(json.dumps(figures))
