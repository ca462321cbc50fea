"""Benchmark (m) runs in quick mode and reports sane figures. Timing targets are NOT tested."""

from __future__ import annotations

import re

from bench.bundle import run_bundle


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", text)]


def test_bundle_bench_quick() -> None:
    result = run_bundle(300, 1, quick=True)
    assert result.met is None and result.target
    export_s = _numbers(result.figures["export (outbox -> sealed file, fsync'd)"])[0]
    import_s = _numbers(result.figures["import (verify, open, store in SQLite, receipt)"])[0]
    size, per_reading, uncompressed = _numbers(result.figures["bundle size"])[:3]
    assert 0 < export_s < 60 and 0 < import_s < 60
    # Compressed, but not by magic: each reading still costs some bytes, and fewer than its
    # payload's length.
    assert 300 * 10 < size < uncompressed
    assert per_reading == round(size / 300)
