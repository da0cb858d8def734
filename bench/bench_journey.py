"""N concurrent dossier journeys: dossiers/minute and p95 step latencies.

Runs on the embedded default (SQLite + local store) and, when reachable, on the server stack
(PostgreSQL from HOSO_TEST_POSTGRES_URL + Ceph RGW from HOSO_TEST_S3_* or
/var/tmp/hoso-ceph/s3.env). The baseline, measured in the same run, is one journey alone:
the ratio says how much concurrency buys. A first, unmeasured journey warms up (certificates,
engines), so the baseline is a warm one.

    .venv/bin/python bench/bench_journey.py [--journeys 4] [--concurrency 2] [--skip-server-mode]

Human lines first, then one line of JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hoso.client import Clients
from hoso.client.channel import ClientConfig, connect
from hoso.client.journey import JourneyInputs, run_journey
from hoso.common.auth import Caller
from hoso.common.config import load_settings
from hoso.common.server import start

TOKEN = "bench-operator-token"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _run(
    overrides: dict[str, dict[str, Any]], journeys: int, concurrency: int
) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="hoso-bench-"))
    base: dict[str, dict[str, Any]] = {
        "server": {"port": 0, "http_port": 0, "data_dir": str(data), "grace_seconds": 1.0},
        "telemetry": {"log_format": "text", "log_level": "WARNING"},
        "ocr": {"poll_seconds": 0.2},
    }
    for section, values in overrides.items():
        base.setdefault(section, {}).update(values)
    settings = load_settings(env={}, overrides=base)
    running = await start(settings, extra_tokens={TOKEN: Caller("bench", frozenset({"operator"}))})
    channel = connect(ClientConfig(address=f"127.0.0.1:{running.port}", token=TOKEN))
    try:
        hoso = Clients(channel)
        scan = JourneyInputs().scan

        def inputs() -> JourneyInputs:
            return JourneyInputs(
                scan=scan, dossier_code=f"BENCH-{uuid.uuid4().hex[:10]}", ocr_timeout=600
            )

        # warm-up: the first journey issues the certificates and loads engines; not measured
        await run_journey(hoso, inputs())
        started = time.perf_counter()
        await run_journey(hoso, inputs())
        alone_seconds = time.perf_counter() - started

        gate = asyncio.Semaphore(concurrency)

        async def one() -> Any:
            async with gate:
                return await run_journey(hoso, inputs())

        started = time.perf_counter()
        results = await asyncio.gather(*(one() for _ in range(journeys)))
        elapsed = time.perf_counter() - started
    finally:
        await channel.close()
        await running.stop(grace=1.0)
        shutil.rmtree(data, ignore_errors=True)
    steps: dict[str, list[float]] = {}
    for result in results:
        for step in result.steps:
            steps.setdefault(step.name, []).append(step.seconds)
    return {
        "journeys": journeys,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "dossiers_per_minute": round(60 * journeys / elapsed, 2),
        "baseline_single_journey_seconds": round(alone_seconds, 3),
        "baseline_dossiers_per_minute": round(60 / alone_seconds, 2),
        "ratio_vs_single": round((60 * journeys / elapsed) / (60 / alone_seconds), 2),
        "p95_step_ms": {k: round(_p95(v) * 1000, 1) for k, v in steps.items()},
        "median_step_ms": {k: round(statistics.median(v) * 1000, 1) for k, v in steps.items()},
    }


def _server_mode() -> tuple[dict[str, dict[str, Any]], Callable[[], None]] | None:
    """Overrides for PostgreSQL + Ceph RGW and how to drop the bench's database afterwards,
    or None when either is unavailable. (The bucket stays: its objects are under lock.)"""
    env = dict(os.environ)
    s3_env = Path(os.environ.get("HOSO_CEPH_DIR", "/var/tmp/hoso-ceph")) / "s3.env"
    if "HOSO_TEST_S3_ENDPOINT" not in env and s3_env.exists():
        for line in s3_env.read_text().splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env.setdefault(key.strip(), value.strip().strip("'\""))
    if "HOSO_TEST_S3_ENDPOINT" not in env:
        return None
    from minio import Minio
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(
        env.get("HOSO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    ).set(drivername="postgresql+psycopg")
    name = f"hoso_bench_{uuid.uuid4().hex[:8]}"
    try:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        bucket = f"hoso-test-bench-{uuid.uuid4().hex[:8]}"
        Minio(
            env["HOSO_TEST_S3_ENDPOINT"],
            access_key=env["HOSO_TEST_S3_ACCESS_KEY"],
            secret_key=env["HOSO_TEST_S3_SECRET_KEY"],
            secure=env.get("HOSO_TEST_S3_SECURE", "false").lower() == "true",
        ).make_bucket(bucket_name=bucket, object_lock=True)
    except Exception as exc:  # no server stack here: report and run embedded only
        print(f"server mode unavailable: {exc}")
        return None

    def drop_database() -> None:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": admin_url.set(database=name).render_as_string(hide_password=False)},
        "storage": {
            "backend": "s3",
            "s3_endpoint": env["HOSO_TEST_S3_ENDPOINT"],
            "s3_access_key": env["HOSO_TEST_S3_ACCESS_KEY"],
            "s3_secret_key": env["HOSO_TEST_S3_SECRET_KEY"],
            "s3_secure": env.get("HOSO_TEST_S3_SECURE", "false").lower() == "true",
            "s3_bucket": bucket,
            "object_lock_mode": "GOVERNANCE",
        },
    }
    return overrides, drop_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=4, help="journeys to run")
    parser.add_argument("--concurrency", type=int, default=2, help="journeys in flight at once")
    parser.add_argument("--skip-server-mode", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"bench": "journey"}
    figures["embedded"] = asyncio.run(_run({}, args.journeys, args.concurrency))
    print(
        f"embedded: {figures['embedded']['dossiers_per_minute']} dossiers/min "
        f"({figures['embedded']['ratio_vs_single']}x one alone)"
    )
    for name, ms in figures["embedded"]["p95_step_ms"].items():
        print(f"  p95 {name:<18} {ms:9.1f} ms")
    server = None if args.skip_server_mode else _server_mode()
    if server is not None:
        overrides, drop_database = server
        try:
            figures["server_mode"] = asyncio.run(_run(overrides, args.journeys, args.concurrency))
        finally:
            drop_database()
        print(f"postgresql+ceph: {figures['server_mode']['dossiers_per_minute']} dossiers/min")
        for name, ms in figures["server_mode"]["p95_step_ms"].items():
            print(f"  p95 {name:<18} {ms:9.1f} ms")
    else:
        figures["server_mode"] = None
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
