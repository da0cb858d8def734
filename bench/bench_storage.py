"""Archive throughput: a 200 MB file through gRPC vs. a direct minio put/get to the same S3.

Starts ``hoso serve storage`` as a subprocess on a fresh object-lock bucket of the test Ceph
RGW (``HOSO_TEST_S3_*`` or ``/var/tmp/hoso-ceph/s3.env``), then in the same run:

* ingest: PutFile of the file (1 MiB messages) vs. ``Minio.put_object`` of the same bytes;
* download: GetFile vs. ``Minio.get_object`` read to the end;
* the server's peak RSS growth during the upload, sampled with psutil every 20 ms;
* where the download's CPU goes (the S3 server's processes, hoso's server, the client), and the
  same bytes over gRPC alone (no storage, no hoso): the transport's own floor on this machine.

Goals: gRPC ≥ 0.8× direct for both directions, RSS growth < 64 MB. Human lines first, the last
line is JSON. ``--size-mb`` and ``--part-mb`` change the file and part size; ``--sse-c`` turns
SSE-C on for both paths (the server's tenant key and minio's customer key).

Usage: ``.venv/bin/python bench/bench_storage.py [--size-mb 200] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
from hoso.client.channel import ClientConfig, connect
from hoso.storage.v1 import storage_pb2 as pb
from hoso.storage.v1 import storage_pb2_grpc as pb_grpc

MiB = 1024 * 1024
KEY = "22" * 32
ENV_FILE = Path(os.environ.get("HOSO_CEPH_DIR", "/var/tmp/hoso-ceph")) / "s3.env"


def s3_env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k.startswith("HOSO_TEST_S3_")}
    if "HOSO_TEST_S3_ENDPOINT" not in values and ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            line = line.strip().removeprefix("export ")
            if line.startswith("HOSO_TEST_S3_") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value.strip("'\"")
    if "HOSO_TEST_S3_ENDPOINT" not in values:
        sys.exit("no S3: run scripts/ceph-rgw.sh start (sets HOSO_TEST_S3_*)")
    return values


def make_file(path: Path, size: int) -> str:
    """A PDF of about ``size`` bytes (incompressible padding stream); returns its SHA-256."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    stream = pikepdf.Stream(pdf, os.urandom(size))
    pdf.Root.Padding = pdf.make_indirect(stream)
    pdf.save(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(8 * MiB):
            digest.update(block)
    return digest.hexdigest()


S3_SERVER_PROCESSES = ("radosgw", "ceph-osd")


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU of ``processes`` so far (children that ended are not counted)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


class CpuMeter:
    """CPU seconds spent during a block by the S3 server, hoso's server and this process."""

    def __init__(self, server_pid: int) -> None:
        self.parts = {
            "s3": [
                p for p in psutil.process_iter(["name"]) if p.info["name"] in S3_SERVER_PROCESSES
            ],
            "server": [psutil.Process(server_pid)],
            "client": [psutil.Process()],
        }
        self.spent: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._start = {name: cpu_seconds(procs) for name, procs in self.parts.items()}
        self._idle = psutil.cpu_times().idle
        self._clock = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.spent = {n: cpu_seconds(p) - self._start[n] for n, p in self.parts.items()}
        wall = time.perf_counter() - self._clock
        idle = psutil.cpu_times().idle - self._idle
        self.spent["machine_idle_share"] = idle / (wall * (psutil.cpu_count() or 1))


def _transport_floor_server(port_pipe: Any, size: int) -> None:
    """A bare gRPC server streaming ``size`` bytes as GetFileResponse messages of 1 MiB."""
    import grpc

    message = pb.GetFileResponse(chunk=os.urandom(MiB)).SerializeToString()

    async def stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for _ in range(size // MiB):
            yield message

    async def serve() -> None:
        server = grpc.aio.server()
        handler = grpc.unary_stream_rpc_method_handler(stream)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("floor.Floor", {"Stream": handler}),)
        )
        port_pipe.send(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        await server.wait_for_termination()

    asyncio.run(serve())


async def transport_floor(size: int, rounds: int) -> dict[str, float]:
    """The same bytes over gRPC alone (another process, loopback): best MiB/s and its CPU."""
    import multiprocessing

    import grpc

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_transport_floor_server, args=(send, size), daemon=True)
    process.start()
    try:
        port = await asyncio.to_thread(receive.recv)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_stream(
                "/floor.Floor/Stream",
                request_serializer=lambda raw: raw,
                response_deserializer=pb.GetFileResponse.FromString,
            )
            measured = []
            for round_number in range(rounds + 1):
                with CpuMeter(process.pid) as meter:
                    start = time.perf_counter()
                    got = sum([len(message.chunk) async for message in call(b"")])
                    seconds = time.perf_counter() - start
                if round_number:  # the first round warms the connection up
                    measured.append((seconds, got, meter.spent))
            seconds, got, spent = min(measured, key=lambda m: m[0])
            return {"mib_s": got / MiB / seconds, **spent}
    finally:
        process.kill()
        process.join()


class RssSampler:
    """Samples a process's RSS in a thread; ``peak_growth`` is relative to the start value."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def peak_growth(self) -> int:
        return self.peak - self.baseline


def start_server(work: Path, env: dict[str, str], bucket: str, args: argparse.Namespace) -> Any:
    data = work / "data"
    sse = f'sse_c_keys = {{ "*" = "{KEY}" }}\n' if args.sse_c else ""
    config = work / "hoso.toml"
    config.write_text(
        f'[server]\nport = 0\nhttp_port = 0\ndata_dir = "{data}"\n'
        f'[database]\nurl = "sqlite:///{work / "catalog.sqlite3"}"\n'
        '[storage]\nbackend = "s3"\n'
        f's3_endpoint = "{env["HOSO_TEST_S3_ENDPOINT"]}"\n'
        f's3_access_key = "{env["HOSO_TEST_S3_ACCESS_KEY"]}"\n'
        f's3_secret_key = "{env["HOSO_TEST_S3_SECRET_KEY"]}"\n'
        f"s3_secure = {env.get('HOSO_TEST_S3_SECURE', 'false').lower()}\n"
        f's3_bucket = "{bucket}"\n'
        f"part_size = {args.part_mb * MiB}\n"
        f"upload_parallelism = {args.parallel}\n"
        f"max_file_size = {(args.size_mb + 64) * MiB}\n"
        + sse
        + '[telemetry]\nlog_format = "text"\nlog_level = "WARNING"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "serve", "storage"],
        env={**os.environ, "HOSO_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    address = ""
    for raw in process.stderr:
        line = raw.decode()
        if line.strip().startswith("gRPC "):
            address = "127.0.0.1:" + line.rsplit(":", 1)[1].strip()
            break
    if not address:
        sys.exit("the server did not start")
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    token = (data / "operator.token").read_text().strip()
    return process, address, token


async def grpc_upload(stub: Any, dossier: str, path: Path, sha256: str) -> pb.FileVersion:
    async def requests() -> AsyncIterator[pb.PutFileRequest]:
        yield pb.PutFileRequest(
            header=pb.PutFileHeader(
                dossier=dossier,
                filename=f"bench-{uuid.uuid4().hex[:6]}.pdf",
                component_type=pb.COMPONENT_TYPE_SUPPORTING_DOCUMENT,
                expected_sha256=sha256,
                expected_size_bytes=path.stat().st_size,
            )
        )
        with path.open("rb") as handle:
            while block := handle.read(MiB):
                yield pb.PutFileRequest(chunk=block)

    return (await stub.PutFile(requests())).file_version


async def grpc_download(stub: Any, name: str) -> int:
    size = 0
    async for message in stub.GetFile(pb.GetFileRequest(name=name)):
        size += len(message.chunk)
    return size


def direct_upload(client: Any, bucket: str, path: Path, sse: Any) -> str:
    key = f"bench/{uuid.uuid4().hex}"
    with path.open("rb") as handle:
        client.put_object(
            bucket_name=bucket,
            object_name=key,
            data=handle,
            length=path.stat().st_size,
            part_size=0,
            sse=sse,
        )
    return key


def direct_download(client: Any, bucket: str, key: str, sse: Any) -> int:
    response = client.get_object(bucket_name=bucket, object_name=key, ssec=sse)
    size = 0
    try:
        for block in response.stream(MiB):
            size += len(block)
    finally:
        response.close()
        response.release_conn()
    return size


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from minio import Minio
    from minio.sse import SseCustomerKey

    env = s3_env()
    client = Minio(
        endpoint=env["HOSO_TEST_S3_ENDPOINT"],
        access_key=env["HOSO_TEST_S3_ACCESS_KEY"],
        secret_key=env["HOSO_TEST_S3_SECRET_KEY"],
        secure=env.get("HOSO_TEST_S3_SECURE", "false").lower() == "true",
    )
    sse = SseCustomerKey(bytes.fromhex(KEY)) if args.sse_c else None
    bucket = f"hoso-bench-{uuid.uuid4().hex[:10]}"
    client.make_bucket(bucket_name=bucket, object_lock=True)
    with tempfile.TemporaryDirectory(prefix="hoso-bench-storage-") as tmp:
        work = Path(tmp)
        path = work / "big.pdf"
        sha256 = make_file(path, args.size_mb * MiB)
        size = path.stat().st_size
        print(f"file: {size / MiB:.1f} MiB PDF, parts {args.part_mb} MiB × {args.parallel}")
        process, address, token = start_server(work, env, bucket, args)
        try:
            channel = connect(ClientConfig(address=address, token=token))
            stub = pb_grpc.ArchiveServiceStub(channel)
            dossier = pb.Dossier(dossier_code="BENCH-1", procedure_code="1.1", agency_code="H26")
            dossier.receive_time.GetCurrentTime()
            await stub.CreateDossier(pb.CreateDossierRequest(dossier=dossier))
            results: dict[str, list[float]] = {k: [] for k in ("gput", "gget", "dput", "dget")}
            rss: list[int] = []
            cpu: dict[str, list[dict[str, float]]] = {"gget": [], "dget": []}
            for round_number in range(args.rounds):
                with RssSampler(process.pid) as sampler:
                    start = time.perf_counter()
                    version = await grpc_upload(stub, "dossiers/BENCH-1", path, sha256)
                    results["gput"].append(time.perf_counter() - start)
                rss.append(sampler.peak_growth)
                with CpuMeter(process.pid) as meter:
                    start = time.perf_counter()
                    got = await grpc_download(stub, version.name)
                    results["gget"].append(time.perf_counter() - start)
                cpu["gget"].append(meter.spent)
                assert got == size, (got, size)
                start = time.perf_counter()
                key = await asyncio.to_thread(direct_upload, client, bucket, path, sse)
                results["dput"].append(time.perf_counter() - start)
                with CpuMeter(process.pid) as meter:
                    start = time.perf_counter()
                    got = await asyncio.to_thread(direct_download, client, bucket, key, sse)
                    results["dget"].append(time.perf_counter() - start)
                cpu["dget"].append(meter.spent)
                assert got == size
                print(
                    f"round {round_number + 1}: gRPC put {size / MiB / results['gput'][-1]:.0f} MiB/s"
                    f" get {size / MiB / results['gget'][-1]:.0f} MiB/s | minio put"
                    f" {size / MiB / results['dput'][-1]:.0f} MiB/s get"
                    f" {size / MiB / results['dget'][-1]:.0f} MiB/s | server RSS +{rss[-1] / MiB:.1f} MiB"
                )
            await channel.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
            _drop_bucket(client, bucket)
    floor = await transport_floor(size, args.rounds)
    best = {k: min(v) for k, v in results.items()}
    rate = {k: size / MiB / v for k, v in best.items()}
    # the CPU of each path's fastest download
    spent = {k: cpu[k][results[k].index(best[k])] for k in cpu}
    figures = {
        "size_bytes": size,
        "part_size_mib": args.part_mb,
        "upload_parallelism": args.parallel,
        "sse_c": args.sse_c,
        "grpc_put_mib_s": round(rate["gput"], 1),
        "grpc_get_mib_s": round(rate["gget"], 1),
        "minio_put_mib_s": round(rate["dput"], 1),
        "minio_get_mib_s": round(rate["dget"], 1),
        "put_ratio": round(rate["gput"] / rate["dput"], 2),
        "get_ratio": round(rate["gget"] / rate["dget"], 2),
        "server_rss_growth_mib": round(max(rss) / MiB, 1),
        # CPU seconds of one download: the same S3 work on both paths; the gRPC hop's own cost
        # (server + client) set against the grpc_only transfer of the same bytes
        "get_cpu_s": {
            "grpc": {k: round(v, 3) for k, v in spent["gget"].items()},
            "minio": {k: round(v, 3) for k, v in spent["dget"].items() if k != "server"},
            "grpc_only": {k: round(v, 3) for k, v in floor.items() if k not in ("s3", "mib_s")},
        },
        "grpc_only_get_mib_s": round(floor["mib_s"], 1),
        "goal_ratio": 0.8,
        "goal_rss_mib": 64,
    }
    figures["meets_goals"] = (
        figures["put_ratio"] >= 0.8
        and figures["get_ratio"] >= 0.8
        and figures["server_rss_growth_mib"] < 64
    )
    grpc_cpu, minio_cpu, hop = (figures["get_cpu_s"][k] for k in ("grpc", "minio", "grpc_only"))
    print(
        f"get CPU s: via hoso S3 {grpc_cpu['s3']} + server {grpc_cpu['server']} + client"
        f" {grpc_cpu['client']} | minio S3 {minio_cpu['s3']} + client {minio_cpu['client']} |"
        f" gRPC alone ({figures['grpc_only_get_mib_s']} MiB/s, no storage): server"
        f" {hop['server']} + client {hop['client']}"
    )
    print(
        f"best: put {figures['put_ratio']}× of minio, get {figures['get_ratio']}× of minio,"
        f" server RSS growth {figures['server_rss_growth_mib']} MiB (goals ≥ 0.8×, < 64 MiB)"
    )
    return figures


def _drop_bucket(client: Any, bucket: str) -> None:
    from minio.deleteobjects import DeleteObject

    objects = list(client.list_objects(bucket_name=bucket, recursive=True, include_version=True))
    list(
        client.remove_objects(
            bucket_name=bucket,
            delete_object_list=[DeleteObject(o.object_name, o.version_id) for o in objects],
            bypass_governance_mode=True,
        )
    )
    for upload in client._list_multipart_uploads(bucket).uploads:
        client._abort_multipart_upload(bucket, upload.object_name, upload.upload_id)
    client.remove_bucket(bucket_name=bucket)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--part-mb", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--sse-c", action="store_true")
    figures = asyncio.run(run(parser.parse_args()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
