"""Verification speed against raw pyHanko in the same run (#5).

Times ``verify_pdf`` plus both reports (ETSI JSON and the Vietnamese text) for a one-signature
B-LT document and a five-signature B-LT document, against pyHanko's ``validate_pdf_signature``
over the same signatures with a DSS-backed validation context (what a caller of raw pyHanko
does). Raw pyHanko runs with its own hex-string reader (our fast reader is uninstalled while it
is timed), so the baseline is stock pyHanko. Wall-clock and CPU medians are both reported: on a
busy machine CPU time is the steadier figure.
Goal: at most 1.5x raw pyHanko, and a five-signature document in under 200 ms.

Run from the repository root (the corpus helpers live in tests/):
``PYTHONPATH=. .venv/bin/python bench/bench_verify.py [--n 15]``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import platform
import statistics
import time
from collections.abc import Callable

from hoso.signing.verify import fastparse
from hoso.signing.verify.engine import verify_pdf
from hoso.signing.verify.profiles import TrustProfile
from hoso.signing.verify.report_json import to_etsi_dict
from hoso.signing.verify.report_text import render_text
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore

from tests.fixtures.attacks import TestPki, base_pdf, make_test_pki, sign_pdf


def _raw_pyhanko(data: bytes, pki: TestPki) -> None:
    reader = PdfFileReader(io.BytesIO(data))
    dss = DocumentSecurityStore.read_dss(reader)
    for emb in reader.embedded_signatures:
        vc = dss.as_validation_context(
            {
                "trust_roots": [pki.root.asn1_cert],
                "allow_fetching": False,
                "revocation_mode": "hard-fail",
                "retroactive_revinfo": True,
            }
        )
        status = validate_pdf_signature(emb, vc)
        assert status.bottom_line, status.pretty_print_details()


def _ours(data: bytes, profile: TrustProfile, expected: int) -> None:
    result = verify_pdf(data, profile)
    assert result.verdict.value == "VALID", result.reasons
    assert len(result.signatures) == expected
    json.dumps(to_etsi_dict(result, "vi"), ensure_ascii=False)
    render_text(result, "vi")


def _median_ms(fn: Callable[[], None], n: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds of ``fn``."""
    fn()  # warm caches and imports
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _stock(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn`` run with pyHanko's own hex-string reader."""

    def run() -> None:
        fastparse.uninstall()
        try:
            fn()
        finally:
            fastparse.install()

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=15)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    pki = make_test_pki()
    profile = TrustProfile("hoso-root", (pki.root.der,))
    one = sign_pdf(base_pdf(), pki)
    five = one
    for i in range(4):
        five = sign_pdf(five, pki, field_name=f"Signer{i + 2}")

    figures: dict[str, float | str | int] = {"python": platform.python_version(), "n": args.n}
    for label, data, count in (("one", one, 1), ("five", five, 5)):
        raw, raw_cpu = _median_ms(_stock(lambda d=data: _raw_pyhanko(d, pki)), args.n)
        ours, ours_cpu = _median_ms(lambda d=data, c=count: _ours(d, profile, c), args.n)
        figures[f"{label}_raw_pyhanko_ms"] = round(raw, 1)
        figures[f"{label}_hoso_ms"] = round(ours, 1)
        figures[f"{label}_hoso_per_signature_ms"] = round(ours / count, 1)
        figures[f"{label}_ratio_vs_raw"] = round(ours / raw, 2)
        figures[f"{label}_raw_pyhanko_cpu_ms"] = round(raw_cpu, 1)
        figures[f"{label}_hoso_cpu_ms"] = round(ours_cpu, 1)
        figures[f"{label}_cpu_ratio_vs_raw"] = round(ours_cpu / raw_cpu, 2)
        print(
            f"{label}-signature B-LT document ({len(data)} bytes): raw pyHanko {raw:.1f} ms "
            f"(CPU {raw_cpu:.1f}), hoso incl. reports {ours:.1f} ms (CPU {ours_cpu:.1f}; "
            f"{ours / count:.1f} ms/signature), ratio {ours / raw:.2f}x "
            f"(CPU {ours_cpu / raw_cpu:.2f}x)"
        )
    figures["goal_ratio_max"] = 1.5
    figures["goal_five_ms_max"] = 200
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
