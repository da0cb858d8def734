"""Signing throughput: the hoso PAdES engine against stock pyHanko, in the same run.

Baselines: (a) stock pyHanko ``SimpleSigner`` loading the key from PEM for every signature
(what a naive service does), (b) pyHanko with the key loaded once. Ours signs through the
key-store handle. Measured in-process for now (the gRPC path needs the server runtime; see
the final JSON's ``transport``). Run from the repository root so that the test PKI helper
imports: ``PYTHONPATH=. .venv/bin/python bench/bench_signing.py [--n 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import statistics
import tempfile
import time

from cryptography.hazmat.primitives import serialization
from hoso.signing.pades.engine import PadesEngine, SignRequest
from hoso.signing.pades.environment import TrustEnvironment
from hoso.signing.pades.inputs import spool_bytes
from hoso.signing.pades.levels import SignatureLevel
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.fixtures.pades import _asn1, _build_pki, make_pdf


async def _time(fn, n: int) -> list[float]:
    await fn()  # warm-up (TSA size estimate, font caches)
    times = []
    for _ in range(n):
        start = time.monotonic()
        await fn()
        times.append(time.monotonic() - start)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30, help="signatures per small-PDF case")
    parser.add_argument("--n-large", type=int, default=5, help="signatures per 20 MB case")
    args = parser.parse_args()
    pki = _build_pki()
    env = TrustEnvironment(
        trust_roots=(_asn1(pki.root),),
        other_certs=(_asn1(pki.ca),),
        timestampers=(pki.timestamper(),),
        revocation=pki,
    )
    engine = PadesEngine(env)
    key_pem = pki.official.key._private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    registry = SimpleCertificateStore.from_certs(list(pki.official.chain))
    cached = SimpleSigner(
        pki.official.certificate,
        load_private_key_from_pemder_data(key_pem, None),
        registry,
        prefer_pss=True,
    )
    timestamper = pki.timestamper()
    docs = {"60KB": make_pdf(padding_bytes=60_000), "20MB": make_pdf(padding_bytes=20_000_000)}
    results: dict[str, dict[str, float]] = {}

    for size, pdf in docs.items():
        n = args.n if size == "60KB" else args.n_large
        for level in (SignatureLevel.B_B, SignatureLevel.B_T):
            ts = timestamper if level.needs_timestamp else None

            async def stock(pdf: bytes = pdf, ts=ts) -> None:
                key = load_private_key_from_pemder_data(key_pem, None)  # re-parsed per signature
                signer = SimpleSigner(pki.official.certificate, key, registry, prefer_pss=True)
                await _pyhanko(pdf, signer, ts)

            async def loaded_once(pdf: bytes = pdf, ts=ts) -> None:
                await _pyhanko(pdf, cached, ts)

            async def ours(pdf: bytes = pdf, level: SignatureLevel = level) -> None:
                with spool_bytes(pdf, max_bytes=10**9) as doc, tempfile.TemporaryFile() as out:
                    await engine.sign(doc, pki.official, SignRequest(level=level), out)

            row = {}
            for name, fn in (("stock", stock), ("cached_key", loaded_once), ("hoso", ours)):
                times = await _time(fn, n)
                row[f"{name}_per_s"] = round(len(times) / sum(times), 2)
                row[f"{name}_p50_ms"] = round(statistics.median(times) * 1000, 1)
            row["vs_stock"] = round(row["hoso_per_s"] / row["stock_per_s"], 2)
            row["vs_cached_key"] = round(row["hoso_per_s"] / row["cached_key_per_s"], 2)
            key = f"{size}_{level}"
            results[key] = row
            print(f"{key:12} " + "  ".join(f"{k}={v}" for k, v in row.items()))

    p50 = {}
    for level in (SignatureLevel.B_T, SignatureLevel.B_LT):

        async def one(level: SignatureLevel = level) -> None:
            with spool_bytes(docs["60KB"], max_bytes=10**9) as doc, tempfile.TemporaryFile() as out:
                await engine.sign(doc, pki.official, SignRequest(level=level), out)

        times = await _time(one, args.n)
        p50[str(level)] = round(statistics.median(times) * 1000, 1)
        print(f"p50 60KB {level}: {p50[str(level)]} ms")
    print(
        json.dumps(
            {
                "bench": "signing",
                "transport": "in-process (gRPC not yet wired)",
                "machine": platform.platform(),
                "python": platform.python_version(),
                "results": results,
                "p50_ms_60KB": p50,
            }
        )
    )


async def _pyhanko(pdf: bytes, signer: SimpleSigner, timestamper) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name="Sig", subfilter=SigSeedSubFilter.PADES)
    with tempfile.TemporaryFile() as out:
        await signers.async_sign_pdf(
            writer, meta, signer=signer, timestamper=timestamper, output=out
        )


if __name__ == "__main__":
    asyncio.run(main())
