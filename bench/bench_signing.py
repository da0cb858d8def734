"""Signing throughput through gRPC against stock pyHanko, measured in the same run.

Baselines (in-process, same PDF, same level, same kind of key):
  (a) stock pyHanko ``SimpleSigner`` loading the key from PEM for every signature;
  (b) pyHanko with the key loaded once (the "cached-key in-process rate"); B-T uses our
      in-process TSA (``InProcessTimeStamper`` over the trust services, key cached).
Ours: ``SigningService/SignPdf`` over gRPC on localhost, one call at a time and 4 in flight,
for a ~60 KB and a ~20 MB PDF at B-B and B-T, with 1 server process and with 2 (each a
separate process with its own catalog and key store; the client spreads calls over both).
Consent is a SAD authorised before the timed loop (one per signature, as a signing portal
would); the PIN path adds one argon2id check (~50 ms by design) and is reported apart.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python bench/bench_signing.py``.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_ROLE_TOKEN = "bench-operator-token"
PIN = "246813579"


# ---- a server process ---------------------------------------------------------------------


async def _serve(data_dir: Path) -> None:
    """Run a signing server on free ports; print its port; serve until stdin closes."""
    from hoso.common.auth import Caller
    from hoso.common.server import start

    from tests.fixtures.grpc_server import make_test_settings

    settings = make_test_settings(
        data_dir,
        f"sqlite:///{data_dir / 'catalog.sqlite3'}",
        {"telemetry": {"log_level": "WARNING"}},
    )
    running = await start(
        settings,
        ["signing"],
        extra_tokens={_ROLE_TOKEN: Caller("bench", frozenset({"operator"}))},
    )
    print(f"PORT {running.port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await running.stop()


class ServerProcess:
    """A signing server in a child process."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = f"127.0.0.1:{int(line.split()[1])}"

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Client:
    """Stubs on one server, with a credential."""

    def __init__(self, address: str) -> None:
        from hoso.client.channel import ClientConfig, connect
        from hoso.client.signing import TrustClient
        from hoso.signing.v1 import signing_pb2_grpc

        self.channel = connect(ClientConfig(address=address, token=_ROLE_TOKEN))
        self.stub = signing_pb2_grpc.SigningServiceStub(self.channel)
        self.trust = TrustClient(self.channel)
        self.credential = ""

    async def setup(self) -> None:
        from hoso.signing.v1 import trust_pb2 as trust_pb

        certificate = await self.trust.issue_certificate(
            trust_pb.DistinguishedName(
                common_name="Nguyễn Văn An", organization="UBND Quận Ba Đình", country="VN"
            ),
            trust_pb.CERTIFICATE_PROFILE_OFFICIAL,
            key_algorithm=trust_pb.KEY_ALGORITHM_RSA_2048,
        )
        self.credential = (await self.trust.create_credential(certificate.name, "bench", PIN)).name

    async def sads(self, digest: bytes, count: int) -> list[str]:
        return [
            (await self.trust.authorize(self.credential, PIN, [digest])).sad for _ in range(count)
        ]

    async def sign(self, pdf: bytes, level: int, consent: Any) -> bytes:
        from hoso.client.streams import drain, header_then_chunks
        from hoso.signing.v1 import signing_pb2 as pb

        header = pb.SignPdfHeader(
            credential=self.credential,
            consent=consent,
            options=pb.SignatureOptions(level=level),  # type: ignore[arg-type]
        )
        requests = header_then_chunks(pb.SignPdfRequest, "header", header, pdf)
        _, data = await drain(self.stub.SignPdf(requests), "result")
        return data


# ---- measurements -------------------------------------------------------------------------


def _summary(times: list[float], wall: float) -> dict[str, float]:
    return {
        "per_s": round(len(times) / wall, 2),
        "p50_ms": round(statistics.median(times) * 1000, 1),
    }


async def _sequential(fn: Any, n: int) -> dict[str, float]:
    await fn(0)  # warm-up
    times = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await fn(i + 1)
        times.append(time.perf_counter() - t)
    return _summary(times, time.perf_counter() - start)


async def _in_flight(fn: Any, n: int, width: int = 4) -> dict[str, float]:
    await fn(0)
    times: list[float] = []
    counter = iter(range(1, n + 1))

    async def lane() -> None:
        for i in counter:
            t = time.perf_counter()
            await fn(i)
            times.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(width)))
    return _summary(times, time.perf_counter() - start)


async def _baselines(docs: dict[str, bytes], n_for: dict[str, int]) -> dict[str, Any]:
    """Stock and cached-key pyHanko, in-process, with our in-process TSA."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko.keys import load_private_key_from_pemder_data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.signers.pdf_cms import SimpleSigner
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from tests.fixtures.pades import _asn1, _build_pki
    from tests.fixtures.trust import build_trust_fixture

    pki = _build_pki()
    key = pki.official.key._private_key  # type: ignore[attr-defined]
    assert isinstance(key, rsa.RSAPrivateKey)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    registry = SimpleCertificateStore.from_certs(list(pki.official.chain))
    cached = SimpleSigner(
        pki.official.certificate,
        load_private_key_from_pemder_data(key_pem, None),
        registry,
        prefer_pss=True,
    )
    trust_dir = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    trust = await build_trust_fixture(trust_dir)
    timestamper = trust.time_stamper

    # Without a validation context pyHanko tries the TSA certificate's OCSP/CRL URLs (which
    # name a port nobody listens on here) and waits for timeouts: not a fair baseline.
    context = ValidationContext(
        trust_roots=[trust.root_cert, _asn1(pki.root)],
        other_certs=[trust.issuing_cert, *pki.official.chain],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )

    async def pyhanko(pdf: bytes, signer: SimpleSigner, ts: Any) -> None:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        meta = signers.PdfSignatureMetadata(
            field_name="Sig", subfilter=SigSeedSubFilter.PADES, validation_context=context
        )
        with tempfile.TemporaryFile() as out:
            await signers.async_sign_pdf(writer, meta, signer=signer, timestamper=ts, output=out)

    out: dict[str, Any] = {}
    for size, pdf in docs.items():
        for level in ("B-B", "B-T"):
            ts = timestamper if level == "B-T" else None

            async def stock(_: int, pdf: bytes = pdf, ts: Any = ts) -> None:
                signer = SimpleSigner(
                    pki.official.certificate,
                    load_private_key_from_pemder_data(key_pem, None),
                    registry,
                    prefer_pss=True,
                )
                await pyhanko(pdf, signer, ts)

            async def once(_: int, pdf: bytes = pdf, ts: Any = ts) -> None:
                await pyhanko(pdf, cached, ts)

            out[f"{size}_{level}"] = {
                "stock": await _sequential(stock, n_for[size]),
                "cached_key": await _sequential(once, n_for[size]),
            }
    await trust.services.keystore.close()
    await trust.runtime.close()
    return out


def _vm(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory figure in bytes (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


async def _memory(pdf: bytes) -> dict[str, Any]:
    """Peak RSS growth of a fresh server process while it signs ``pdf`` once (B-T).

    The server is warmed up with a small PDF first (imports, fonts, caches) and the consent
    (a SAD: the PIN's argon2id check alone takes 64 MiB) is obtained before measuring. RSS is
    sampled every 2 ms during the call; growth is the highest sample minus the RSS before.
    """
    import threading

    from hoso.signing.v1 import signing_pb2 as pb

    from tests.fixtures.pades import make_pdf

    server = ServerProcess(Path(tempfile.mkdtemp(prefix="bench-mem-")))
    pid = server.process.pid
    try:
        client = Client(server.address)
        await client.setup()
        await client.sign(make_pdf(), pb.PADES_LEVEL_B_T, pb.Consent(pin=PIN))
        (sad,) = await client.sads(hashlib.sha256(pdf).digest(), 1)
        await asyncio.sleep(0.2)  # let the allocator settle after the warm-up
        before = _vm(pid, "VmRSS")
        peak = before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _vm(pid, "VmRSS"))
                time.sleep(0.002)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            await client.sign(pdf, pb.PADES_LEVEL_B_T, pb.Consent(sad=sad))
        finally:
            done.set()
            sampler.join()
        await client.channel.close()
    finally:
        server.close()
    growth = peak - before
    return {
        "file_bytes": len(pdf),
        "rss_before_bytes": before,
        "rss_peak_bytes": peak,
        "growth_bytes": growth,
        "growth_vs_file": round(growth / len(pdf), 2),
        "goal_vs_file": 2.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30, help="signatures per small-PDF case")
    parser.add_argument("--n-large", type=int, default=4, help="signatures per 20 MB case")
    parser.add_argument("--memory-only", action="store_true", help="only the RSS figure")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        await _serve(args.serve)
        return
    from hoso.signing.v1 import signing_pb2 as pb

    from tests.fixtures.pades import make_pdf

    docs = {"60KB": make_pdf(padding_bytes=60_000), "20MB": make_pdf(padding_bytes=20_000_000)}
    if args.memory_only:
        memory = await _memory(docs["20MB"])
        print(f"memory while signing 20 MB: {memory}")
        print(json.dumps({"bench": "signing", "memory_20MB": memory}))
        return
    n_for = {"60KB": args.n, "20MB": args.n_large}
    levels = {"B-B": pb.PADES_LEVEL_B_B, "B-T": pb.PADES_LEVEL_B_T, "B-LT": pb.PADES_LEVEL_B_LT}
    print(f"baselines (in-process pyHanko), n={n_for}", flush=True)
    baselines = await _baselines(docs, n_for)
    servers = [ServerProcess(Path(tempfile.mkdtemp(prefix=f"bench-sign-{i}-"))) for i in (1, 2)]
    results: dict[str, Any] = {}
    try:
        clients = [Client(server.address) for server in servers]
        for client in clients:
            await client.setup()
        for size, pdf in docs.items():
            digest = hashlib.sha256(pdf).digest()
            n = n_for[size]
            for level_name in ("B-B", "B-T"):
                level = levels[level_name]
                row: dict[str, Any] = dict(baselines[f"{size}_{level_name}"])
                for workers in (1, 2):
                    active = clients[:workers]
                    # one SAD per signature (+ warm-ups), authorised before the timed loops
                    pools = [await c.sads(digest, 2 * n + 2) for c in active]

                    async def call(
                        i: int,
                        active: list[Client] = active,
                        pools: Any = pools,
                        pdf: bytes = pdf,
                        level: int = level,
                    ) -> None:
                        lane = i % len(active)
                        sad = pools[lane].pop()
                        await active[lane].sign(pdf, level, pb.Consent(sad=sad))

                    if workers == 1:
                        row["grpc_1_call"] = await _sequential(call, n)
                    row[f"grpc_4_in_flight_{workers}_proc"] = await _in_flight(call, n)
                best = max(row["grpc_1_call"]["per_s"], row["grpc_4_in_flight_1_proc"]["per_s"])
                row["vs_stock"] = round(best / row["stock"]["per_s"], 2)
                row["vs_cached_key"] = round(best / row["cached_key"]["per_s"], 2)
                row["vs_cached_key_2_proc"] = round(
                    row["grpc_4_in_flight_2_proc"]["per_s"] / row["cached_key"]["per_s"], 2
                )
                results[f"{size}_{level_name}"] = row
                print(f"{size} {level_name}: {json.dumps(row)}", flush=True)
        p50: dict[str, float] = {}
        small = docs["60KB"]
        digest = hashlib.sha256(small).digest()
        for level_name in ("B-T", "B-LT"):
            sads = await clients[0].sads(digest, args.n + 1)

            async def one(_: int, level: int = levels[level_name], sads: list[str] = sads) -> None:
                await clients[0].sign(small, level, pb.Consent(sad=sads.pop()))

            p50[level_name] = (await _sequential(one, args.n))["p50_ms"]

        async def with_pin(_: int) -> None:
            await clients[0].sign(small, pb.PADES_LEVEL_B_T, pb.Consent(pin=PIN))

        p50["B-T_with_PIN"] = (await _sequential(with_pin, min(args.n, 10)))["p50_ms"]
        print(f"p50 60KB through gRPC (ms): {p50}", flush=True)
        for client in clients:
            await client.channel.close()
    finally:
        for server in servers:
            server.close()
    memory = await _memory(docs["20MB"])
    print(f"memory while signing 20 MB: {memory}", flush=True)
    print(
        json.dumps(
            {
                "bench": "signing",
                "transport": "gRPC localhost; baselines in-process",
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "results": results,
                "p50_ms_60KB": p50,
                "memory_20MB": memory,
                "goal": {"vs_stock": 5, "vs_cached_key": 0.9, "p50_B-T_ms": 40, "p50_B-LT_ms": 60},
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
