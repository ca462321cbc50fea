"""Each benchmark runs in quick mode and reports sane figures. Timing targets are NOT tested."""

from __future__ import annotations

import re

import pytest

from bench.central_ingest import run_central_ingest
from bench.common import Result, percentile
from bench.drain import run_drain
from bench.fhir_export import run_fhir_export
from bench.fleet_lastwill import run_fleet_lastwill
from bench.forward import run_forward
from bench.kiosk import run_kiosk
from bench.latency import run_latency
from bench.run_all import main
from bench.startup import run_startup

# No skip when mosquitto is missing: `make test` installs it, and a skipped smoke run would
# hide a broken benchmark.
pytestmark = [pytest.mark.broker]


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", text)]


def _judged_nothing(result: Result) -> None:
    assert result.met is None  # quick mode never claims a target met or missed
    assert result.target


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_drain_and_rss() -> None:
    drain, rss = run_drain(600, 1, quick=True)
    _judged_nothing(drain)
    _judged_nothing(rss)
    base = _numbers(drain.figures["raw paho QoS 1 (baseline)"])
    gateway = _numbers(drain.figures["gateway drain"])
    ratio = _numbers(drain.figures["ratio (median)"])[0]
    assert base[0] > 100 and gateway[0] > 100  # readings/s: anything lower means it broke
    assert ratio == pytest.approx(gateway[0] / base[0], rel=0.02)
    peak = _numbers(rss.figures["peak"])[0]
    assert 5 < peak < 1000  # MB: a real Python process, not a misread /proc field


def test_forward() -> None:
    result = run_forward(400, rounds=3, producers=4, batch=5, quick=True)
    _judged_nothing(result)
    rates = _numbers(result.figures["offer -> last PUBACK, each round"])
    assert len(rates) == 3 and min(rates) > 50
    assert _numbers(result.figures["offer -> last PUBACK, median"])[0] == sorted(rates)[1]
    committed = _numbers(result.figures["offer -> all committed, each round"])
    assert all(c >= r * 0.99 for c, r in zip(committed, rates, strict=True))


def test_latency() -> None:
    result = run_latency(0.5, rate=20.0, quick=True)
    _judged_nothing(result)
    assert result.figures["samples"].startswith("10 ")
    p50, p90, p99, worst = _numbers(result.figures["p50 / p90 / p99 / max"])
    assert 0 < p50 <= p90 <= p99 <= worst < 5000


def test_startup() -> None:
    result = run_startup(1, quick=True)
    _judged_nothing(result)
    median = _numbers(result.figures["median"])[0]
    bare = _numbers(result.figures["baseline `python -c pass` median"])[0]
    assert 0 < bare < median < 30_000  # ms: the gateway imports more than a bare interpreter


def test_central_ingest() -> None:
    one, two = run_central_ingest(600, gateways=6, quick=True)
    _judged_nothing(one)
    _judged_nothing(two)
    # Every reading confirmed exactly once per id (receipts may repeat ids, never miss one).
    assert _numbers(one.figures["receipt ids received (distinct = readings)"])[0] == 600
    rate = _numbers(one.figures["central (subscribed -> all committed + receipted)"])[0]
    many = _numbers(one.figures["raw INSERT ... ON CONFLICT DO NOTHING, executemany"])[0]
    drain = _numbers(one.figures["raw paho drain of the same queue (MQTT limit)"])[0]
    assert rate > 50 and many > 50 and drain > 50  # per second: anything lower means it broke
    ratio = _numbers(one.figures["ratio central / the faster raw insert (baseline)"])[0]
    unnest = _numbers(one.figures["raw INSERT ... SELECT unnest ... ON CONFLICT DO NOTHING"])[0]
    assert ratio == pytest.approx(rate / max(many, unnest), rel=0.05, abs=0.01)
    assert _numbers(two.figures["ratio two / one"])[0] > 0


@pytest.mark.browser
def test_kiosk() -> None:
    latency, weight = run_kiosk(2, quick=True)
    _judged_nothing(latency)
    _judged_nothing(weight)
    samples = _numbers(latency.figures["all samples (seen), ms"])
    assert len(samples) == 2
    p50, worst = _numbers(latency.figures["p50 / max (seen by Playwright)"])
    assert 0 < p50 <= worst == max(samples) < 20_000  # the page waits at most 20 s
    in_page = _numbers(latency.figures["p50 / max (in page, DOMContentLoaded)"])
    assert 0 < in_page[1] <= worst  # the page had the values before Playwright saw them
    stored = _numbers(latency.figures["split p50 / max: indication -> ReadingStored"])
    assert 0 <= stored[1] < worst  # the commit comes before the screen
    largest = _numbers(weight.figures["largest"])[0]
    start = _numbers(weight.figures["welcome /"])[0]
    assert 1 < start <= largest < 5_000  # KB: a real page, not an empty or runaway count


def test_fhir_export() -> None:
    result = run_fhir_export(600, 1, quick=True)
    _judged_nothing(result)
    assert _numbers(result.figures["readings"])[0] == 600
    rate = _numbers(result.figures["export, median"])[0]
    raw = _numbers(result.figures["raw page dump (baseline), median"])[0]
    assert 100 < rate < raw  # readings/s: mapping costs more than copying the stored text
    resources = _numbers(result.figures["output"])[0]
    # Half blood pressure (3 Observations), half glucose (1), each with its PHD coincident
    # timestamp (the bench's meters had their clocks corrected), plus each gateway and meter once.
    assert resources == 300 * 3 + 300 + 600 + 50 + 2
def test_fleet_lastwill() -> None:
    result = run_fleet_lastwill(2, quick=True)
    _judged_nothing(result)
    kills = _numbers(result.figures["kill -> offline, each round"])
    assert len(kills) == 2
    assert 0 < max(kills) == _numbers(result.figures["kill -> offline, max"])[0] < 60_000
    assert _numbers(result.figures["gateway keepalive"])[0] > 0
    assert "silent (SIGSTOP) -> offline" not in result.figures  # full mode only


@pytest.mark.browser
def test_run_all_quick_prints_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick"]) == 0
    out = capsys.readouterr().out
    labels = ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)", "(i)", "(j)", "(l)", "(m)")
    for label in labels:
        assert f"== {label}" in out
    assert "MISSED" not in out and "-> MET" not in out
