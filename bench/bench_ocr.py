"""OCR throughput against OCRmyPDF, and search latency over a 100k-page index.

Run: ``.venv/bin/python bench/bench_ocr.py [--pages 10] [--index-pages 100000]``

1. A generated 10-page scanned PDF (Vietnamese, 300 dpi) is OCR'd to a searchable PDF/A by
   hoso (1 and 2 worker processes, pool start-up included) and by OCRmyPDF
   (``--jobs`` equal, ``--output-type pdfa``, same language), in the same run; pages/s and the
   character error rate (CER, from ``pdftotext`` of each output) of both are printed.
2. An SQLite FTS5 index of synthetic Vietnamese pages is searched with mixed folded/exact
   queries through :class:`hoso.ocr.index.sqlite.SqliteTextIndex`; p50/p95 latency printed.

The last line is JSON with every figure and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hoso.common import migrate
from hoso.common.db import create_engine
from hoso.ocr.document import ocr_document
from hoso.ocr.engine import EngineOptions
from hoso.ocr.index import SearchFilters, parse_query
from hoso.ocr.index.api import words_of
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


def _build_index(url_path: Path, pages: int, rng: random.Random, vocabulary: list[str]) -> None:
    """Fill the migrated database with synthetic pages (bulk SQL, same columns as upsert)."""
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf-like word frequency
    connection = sqlite3.connect(url_path)
    batch_size = 5000
    for start in range(0, pages, batch_size):
        rows, fts = [], []
        for page_id in range(start + 1, min(pages, start + batch_size) + 1):
            words = rng.choices(vocabulary, weights, k=150)
            text = " ".join(words)
            rows.append((page_id, f"v{page_id // 4}", page_id % 4 + 1, text, f"D{page_id // 40}"))
            fts.append((page_id, text, " ".join(fold(w) for w in words)))
        connection.executemany(
            "INSERT INTO ocr_index_pages(id, file_version, page, text, dossier, agency, procedure,"
            " component_type) VALUES (?, ?, ?, ?, ?, '', '', '')",
            rows,
        )
        connection.executemany(
            "INSERT INTO ocr_page_fts(rowid, exact, folded) VALUES (?, ?, ?)", fts
        )
        connection.commit()
    connection.execute("INSERT INTO ocr_page_fts(ocr_page_fts) VALUES ('optimize')")
    connection.commit()
    connection.close()


async def bench_search(pages: int, folder: Path, queries: int = 300) -> dict[str, float]:
    path = folder / "index.sqlite3"
    url = f"sqlite:///{path}"
    await asyncio.to_thread(migrate.upgrade, url)
    rng = random.Random(20240315)
    vocabulary = _vocabulary()
    started = time.perf_counter()
    await asyncio.to_thread(_build_index, path, pages, rng, vocabulary)
    print(f"indexed {pages} synthetic pages in {time.perf_counter() - started:.1f} s", flush=True)
    engine = create_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    index = SqliteTextIndex()
    latencies: list[float] = []
    totals: list[int] = []
    async with sessions() as session:
        for number in range(queries):
            pair = rng.sample(vocabulary, 2)
            text = " ".join(fold(w) for w in pair) if number % 2 else " ".join(pair)
            if number % 5 == 0:
                text = f'"{text}"'
            began = time.perf_counter()
            results = await index.search(
                session, parse_query(text), SearchFilters(), limit=10, offset=0
            )
            latencies.append((time.perf_counter() - began) * 1000)
            totals.append(results.total)
    await engine.dispose()
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[int(len(latencies) * 0.95)]
    print(
        f"search over {pages} pages: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(median {statistics.median(totals):.0f} matching pages per query)",
        flush=True,
    )
    return {"search_pages": pages, "search_p50_ms": p50, "search_p95_ms": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--index-pages", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hoso-bench-ocr-") as name:
        folder = Path(name)
        figures = bench_ocr(args.pages, folder)
        figures |= asyncio.run(bench_search(args.index_pages, folder))
    figures["goal_speedup_met"] = float(
        figures["speedup_2w"] >= 1.2 and figures["hoso_2w_cer"] <= figures["ocrmypdf_2w_cer"]
    )
    figures["goal_search_met"] = float(figures["search_p95_ms"] < 20)
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
