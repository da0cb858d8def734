"""OCR throughput against OCRmyPDF, and search latency over a 100k-page index.

Run: ``.venv/bin/python bench/bench_ocr.py [--pages 10] [--index-pages 100000]``

1. A generated 10-page scanned PDF (Vietnamese, 300 dpi) is OCR'd to a searchable PDF/A by
   hoso (1 and 2 worker processes, pool start-up included) and by OCRmyPDF
   (``--jobs`` equal, ``--output-type pdfa``, same language), in the same run; pages/s and the
   character error rate (CER, from ``pdftotext`` of each output) of both are printed.
2. An index of synthetic Vietnamese pages (Zipf-like word frequencies, 150 words a page) is
   built on SQLite FTS5 and on PostgreSQL (a fresh database at ``HOSO_TEST_POSTGRES_URL``;
   skipped when unreachable) and searched through :func:`hoso.ocr.index.open_index` with
   two-word queries (half typed without diacritics), the same words as phrases, and with a
   dossier filter; p50/p95 latency of each kind and of all queries is printed per backend.
   ``--search-only`` skips part 1.

The last line is JSON with every figure and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from hoso.common import migrate
from hoso.common.db import create_engine
from hoso.ocr.document import ocr_document
from hoso.ocr.engine import EngineOptions
from hoso.ocr.index import SearchFilters, TextIndex, open_index, parse_query
from hoso.ocr.index.api import page_terms, words_of
from hoso.ocr.index.postgres import PostgresTextIndex
from hoso.ocr.index.sqlite import SqliteTextIndex
from hoso.ocr.pool import OcrPool
from hoso.ocr.settings import DEFAULT_TESSDATA
from hoso.ocr.text import character_error_rate, fold
from sqlalchemy.ext.asyncio import async_sessionmaker

ROOT = Path(__file__).resolve().parent.parent


def _pages_module():  # type: ignore[no-untyped-def]
    """The test page generator (tests/ is not an installed package)."""
    spec = importlib.util.spec_from_file_location("ocr_pages", ROOT / "tests/fixtures/ocr_pages.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["ocr_pages"] = module
    spec.loader.exec_module(module)
    return module


def _pdf_text_pages(path: Path, count: int) -> list[str]:
    texts = []
    for number in range(1, count + 1):
        out = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(path), "-"],
            capture_output=True,
            timeout=120,
            check=True,
        )
        texts.append(out.stdout.decode())
    return texts


def _cer(path: Path, references: list[str]) -> float:
    texts = _pdf_text_pages(path, len(references))
    return statistics.fmean(
        character_error_rate(r, t) for r, t in zip(references, texts, strict=True)
    )


def bench_ocr(pages: int, folder: Path, repeats: int = 3) -> dict[str, float]:
    module = _pages_module()
    samples = [module.clean_page(i) for i in range(pages)]
    references = [s.text for s in samples]
    source = folder / "scan.pdf"
    source.write_bytes(module.scanned_pdf(samples))
    figures: dict[str, float] = {}
    for jobs in (1, 2):
        ours_runs, theirs_runs = [], []
        # The machine may be shared: interleave the runs and keep the median of each.
        for _ in range(repeats):
            started = time.perf_counter()
            pool = OcrPool(EngineOptions(tessdata=str(DEFAULT_TESSDATA)), jobs)
            try:
                result = ocr_document(source, pool, dpi=300)
            finally:
                pool.close()
            ours_runs.append(time.perf_counter() - started)
            assert result.rendition is not None and not result.failed_pages
            target = folder / f"hoso-{jobs}.pdf"
            target.write_bytes(result.rendition)

            baseline_out = folder / f"ocrmypdf-{jobs}.pdf"
            started = time.perf_counter()
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "ocrmypdf"),
                    "--jobs",
                    str(jobs),
                    "-l",
                    "vie",
                    "--output-type",
                    "pdfa",
                    "--quiet",
                    str(source),
                    str(baseline_out),
                ],
                check=True,
                timeout=1200,
            )
            theirs_runs.append(time.perf_counter() - started)
        ours, theirs = statistics.median(ours_runs), statistics.median(theirs_runs)
        figures[f"hoso_{jobs}w_pages_per_s"] = pages / ours
        figures[f"hoso_{jobs}w_cer"] = _cer(target, references)
        figures[f"ocrmypdf_{jobs}w_pages_per_s"] = pages / theirs
        figures[f"ocrmypdf_{jobs}w_cer"] = _cer(baseline_out, references)
        figures[f"speedup_{jobs}w"] = theirs / ours
        print(
            f"{jobs} worker(s): hoso {pages / ours:.2f} pages/s (CER "
            f"{figures[f'hoso_{jobs}w_cer']:.4f}), OCRmyPDF {pages / theirs:.2f} pages/s (CER "
            f"{figures[f'ocrmypdf_{jobs}w_cer']:.4f}), ×{theirs / ours:.2f} "
            f"(median of {repeats}, pool start-up included)",
            flush=True,
        )
    return figures


def _vocabulary() -> list[str]:
    module = _pages_module()
    words = sorted({w for text in module.PAGE_TEXTS for line in text for w in words_of(line)})
    extra = [
        "hồ",
        "sơ",
        "đăng",
        "ký",
        "giấy",
        "chứng",
        "nhận",
        "quyền",
        "sử",
        "dụng",
        "đất",
        "ủy",
        "ban",
        "nhân",
        "dân",
        "tỉnh",
        "huyện",
        "xã",
        "phường",
        "thị",
        "trấn",
        "cấp",
        "đổi",
        "bản",
        "sao",
        "chứng",
        "thực",
        "hộ",
        "tịch",
        "khai",
        "sinh",
        "kết",
        "hôn",
        "khai",
        "tử",
        "thường",
        "trú",
        "tạm",
        "trú",
        "căn",
        "cước",
        "công",
        "dân",
        "doanh",
        "nghiệp",
        "thuế",
        "phí",
        "lệ",
        "phí",
        "thời",
        "hạn",
        "giải",
        "quyết",
        "trả",
        "kết",
        "quả",
        "bưu",
        "chính",
        "công",
        "ích",
        "dịch",
        "vụ",
        "trực",
        "tuyến",
        "một",
        "cửa",
        "liên",
        "thông",
        "văn",
        "bản",
        "quyết",
        "định",
        "thông",
        "báo",
    ]
    return sorted(set(words) | set(extra))


def _synthetic_pages(pages: int, rng: random.Random, vocabulary: list[str]):  # type: ignore[no-untyped-def]
    """Rows ``(id, file_version, page, text, dossier, terms)`` in id order, in batches
    (``terms``: what the index stores of the text, :func:`page_terms`)."""
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf-like word frequency
    batch_size = 5000
    for start in range(0, pages, batch_size):
        batch = []
        for page_id in range(start + 1, min(pages, start + batch_size) + 1):
            text = " ".join(rng.choices(vocabulary, weights, k=150))
            version, number, dossier = f"v{page_id // 4}", page_id % 4 + 1, f"D{page_id // 40}"
            batch.append((page_id, version, number, text, dossier, page_terms(text)))
        yield batch


def _build_sqlite(path: Path, pages: int, rng: random.Random, vocabulary: list[str]) -> None:
    """Fill the migrated database with synthetic pages (bulk SQL, same rows as ``upsert``)."""
    connection = sqlite3.connect(path)
    for batch in _synthetic_pages(pages, rng, vocabulary):
        connection.executemany(
            "INSERT INTO ocr_index_pages(id, file_version, page, text, dossier, agency, procedure,"
            " component_type) VALUES (?, ?, ?, ?, ?, '', '', '')",
            [(i, v, n, t, d) for i, v, n, t, d, _ in batch],
        )
        connection.executemany(
            re.sub(r":\w+", "?", SqliteTextIndex.INSERT_SQL),
            [(i, w.exact, w.folded, " ".join(w.pairs)) for i, *_, w in batch],
        )
        connection.commit()
    connection.execute("INSERT INTO ocr_page_fts(ocr_page_fts) VALUES ('optimize')")
    connection.commit()
    connection.close()


def _build_postgres(url: str, pages: int, rng: random.Random, vocabulary: list[str]) -> None:
    """Fill the migrated database with synthetic pages through COPY (same rows as ``upsert``)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        # As any bulk load: GIN indexes are built once at the end (kept up row by row, the
        # pair keys' index made the load take half an hour).
        gin = [
            (name, definition)
            for name, definition in connection.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'ocr_page_fts' AND indexdef LIKE '%USING gin%'"
            )
        ]
        for name, _ in gin:
            connection.execute(f'DROP INDEX "{name}"')  # type: ignore[arg-type]
        for batch in _synthetic_pages(pages, rng, vocabulary):
            with connection.cursor() as cursor:
                with cursor.copy(
                    "COPY ocr_index_pages(id, file_version, page, text, dossier, agency, procedure,"
                    " component_type) FROM STDIN"
                ) as copy:
                    for i, v, n, t, d, _ in batch:
                        copy.write_row((i, v, n, t, d, "", "", ""))
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS staging(id int, e text, f text, p text[])"
                )
                cursor.execute("TRUNCATE staging")
                with cursor.copy("COPY staging FROM STDIN") as copy:
                    for i, *_, w in batch:
                        copy.write_row((i, w.exact, w.folded, list(w.pairs)))
                cursor.execute(PostgresTextIndex.BULK_INSERT_SQL)
            connection.commit()
        for _, definition in gin:
            connection.execute(definition)  # type: ignore[arg-type]
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE ocr_index_pages")
        connection.execute("VACUUM ANALYZE ocr_page_fts")


def _queries(rng: random.Random, vocabulary: list[str], count: int) -> list[tuple[str, str, str]]:
    """``(kind, query, dossier filter)``: two-word queries, half typed without diacritics."""
    queries = []
    for number in range(count):
        pair = rng.sample(vocabulary, 2)
        text = " ".join(fold(w) for w in pair) if number % 2 else " ".join(pair)
        queries.append(("word", text, ""))
        queries.append(("phrase", f'"{text}"', ""))
        queries.append(("filtered", text, f"D{rng.randrange(1, 2500)}"))
    return queries


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95)]


async def _run_queries(url: str, index: TextIndex, queries: list[tuple[str, str, str]]):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    latencies: dict[str, list[float]] = {"word": [], "phrase": [], "filtered": []}
    totals: list[int] = []
    async with sessions() as session:
        for warm in queries[:30]:  # warm the page cache and the connection, as a live server is
            await index.search(session, parse_query(warm[1]), SearchFilters(), limit=10, offset=0)
        for kind, text, dossier in queries:
            began = time.perf_counter()
            results = await index.search(
                session, parse_query(text), SearchFilters(dossier=dossier), limit=10, offset=0
            )
            latencies[kind].append((time.perf_counter() - began) * 1000)
            if kind == "word":
                totals.append(results.total)
    await engine.dispose()
    return latencies, totals


async def bench_search(
    pages: int, folder: Path, backend: str, queries: int = 200
) -> dict[str, float]:
    """Build a ``pages``-page index on ``backend`` and time word, phrase and filtered queries."""
    rng = random.Random(20240315)
    vocabulary = _vocabulary()
    postgres_admin = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'index.sqlite3'}"
        await asyncio.to_thread(migrate.upgrade, url)
        build = functools.partial(_build_sqlite, folder / "index.sqlite3")
    else:
        postgres_admin = os.environ.get("HOSO_TEST_POSTGRES_URL", _POSTGRES_DEFAULT)
        url = await asyncio.to_thread(_create_postgres_database, postgres_admin)
        await asyncio.to_thread(migrate.upgrade, url)
        build = functools.partial(_build_postgres, url)
    try:
        started = time.perf_counter()
        await asyncio.to_thread(build, pages, rng, vocabulary)
        print(
            f"{backend}: indexed {pages} synthetic pages in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        latencies, totals = await _run_queries(
            url, open_index(backend), _queries(rng, vocabulary, queries)
        )
    finally:
        if postgres_admin is not None:
            await asyncio.to_thread(_drop_postgres_database, postgres_admin, url)
    figures: dict[str, float] = {f"search_{backend}_pages": pages}
    for kind, values in latencies.items():
        p50, p95 = _percentiles(values)
        figures[f"search_{backend}_{kind}_p50_ms"] = p50
        figures[f"search_{backend}_{kind}_p95_ms"] = p95
        print(f"{backend} {kind:8} queries over {pages} pages: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    p50, p95 = _percentiles([v for values in latencies.values() for v in values])
    figures[f"search_{backend}_p50_ms"] = p50
    figures[f"search_{backend}_p95_ms"] = p95
    print(
        f"{backend} all queries: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(median {statistics.median(totals):.0f} matching pages per word query)",
        flush=True,
    )
    return figures


_POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def _create_postgres_database(admin_url: str) -> str:
    import psycopg

    name = f"hoso_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


def _drop_postgres_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _postgres_reachable() -> bool:
    import psycopg

    try:
        url = os.environ.get("HOSO_TEST_POSTGRES_URL", _POSTGRES_DEFAULT)
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--index-pages", type=int, default=100_000)
    parser.add_argument("--search-only", action="store_true", help="skip the OCR part")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hoso-bench-ocr-") as name:
        folder = Path(name)
        if not args.search_only:
            figures |= bench_ocr(args.pages, folder)
        for backend in args.backends.split(","):
            if backend == "postgresql" and not _postgres_reachable():
                print("postgresql: not reachable, search not measured", flush=True)
                continue
            figures |= asyncio.run(bench_search(args.index_pages, folder, backend))
    if "speedup_2w" in figures:
        figures["goal_speedup_met"] = float(
            figures["speedup_2w"] >= 1.2 and figures["hoso_2w_cer"] <= figures["ocrmypdf_2w_cer"]
        )
    searched = [v for k, v in figures.items() if re.fullmatch(r"search_\w+_p95_ms", k)]
    figures["goal_search_met"] = float(bool(searched) and max(searched) < 20)
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
