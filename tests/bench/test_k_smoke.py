"""Benchmark (k) runs at smoke sizes on a real PostgreSQL and reports sane figures for every
page it measures. Timing targets are NOT tested."""

from __future__ import annotations

import os
import re

import pytest

from bench.k_dashboard import run_k_dashboard
from tests.support.postgres import PostgresMissing, pg_bindir


def test_k_dashboard_smoke() -> None:
    try:
        pg_bindir()
    except PostgresMissing as exc:
        # As the PostgreSQL fixture does: CI must run it, a developer without it may skip.
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI must run the PostgreSQL tests: make test installs it)")
        pytest.skip(str(exc))
    result = run_k_dashboard(1_500, 12, 200, 2, quick=True)
    assert result.met is None and result.target
    assert int(result.figures["referrals filed"].replace(",", "")) > 0
    assert result.figures["first cascade fill (refresh_facts)"].startswith("1,500 readings")
    pages = {k: v for k, v in result.figures.items() if k.startswith(("dinkes /", "puskesmas /"))}
    # Both accounts, every cascade level and period, the worklist and a referral of it.
    for who in ("dinkes", "puskesmas"):
        mine = [k for k in pages if k.startswith(who + " ")]
        assert any("period=year" in k for k in mine) and any("&site=" in k for k in mine)
        assert any(re.fullmatch(rf"{who} /worklist/\d+", k) for k in mine)
    assert any(k == "dinkes /audit" for k in pages)
    assert not any(k == "puskesmas /audit" for k in pages)  # Dinkes' page only
    for key, text in pages.items():
        found = re.fullmatch(
            r"HTTP (\d+), first (\d+) ms, p50 ([\d.]+) ms, p95 ([\d.]+) ms, ([\d.]+) KB", text
        )
        assert found is not None, (key, text)
        assert found.group(1) == "200", key
        p50, p95, size = float(found.group(3)), float(found.group(4)), float(found.group(5))
        assert 0 < p50 <= p95 and 1 < size < 10_000
