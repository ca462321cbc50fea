"""`gempita demo measure` against a real `gempita demo` process: the chosen values reach
central (its printed line and its SQLite), and --no-auto-resident really stops the background
resident. One demo process serves every `measure` call: each start costs seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.reading import Kind
from tests.kiosk_e2e.helpers import NIK_A, HttpResident
from tests.support.demo import Demo, running_demo

MEMORY_DUMP = 2 + 5  # the demo's BP monitor and glucose meter memories
ARRIVAL_S = 30.0  # one device session every 5 s; generous on a loaded 2-core machine


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    # --every 1 as well: --no-auto-resident must win, or readings arrive every second.
    with running_demo(tmp_path, "--every", "1", "--no-auto-resident") as running:
        yield running


def test_demo_measure_sends_chosen_readings_through_the_real_chain(demo: Demo) -> None:
    dump = demo.stored_within(60, lambda s: len(s) >= MEMORY_DUMP)
    assert len(dump) == MEMORY_DUMP, demo.seen
    assert (demo.state / "demo.sock").exists()

    # A control-solution test is measured, and nothing reaches central: the gateway drops
    # it, and no background resident measures (it would every second with --every 1).
    done = demo.measure("--control-solution")
    assert done.returncode == 0, done.stderr
    assert "larutan kontrol" in done.stdout
    quiet = demo.stored_within(12, lambda s: bool(s))
    assert quiet == [], quiet

    done = demo.measure("--bp", "150/95", "--pulse", "72")
    assert done.returncode == 0, done.stderr
    assert "Terkirim" in done.stdout and "150/95 mmHg, nadi 72" in done.stdout
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "BP 150.0/95.0 mmHg pulse 72.0" in got[0], demo.seen

    done = demo.measure("--glucose", "HI")
    assert done.returncode == 0, done.stderr
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "glucose HI" in got[0], demo.seen

    done = demo.measure("--glucose", "250", "--fasting")
    assert done.returncode == 0, done.stderr
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "glucose 250.0 mg/dL" in got[0], demo.seen

    values = demo.central_values()
    assert len(values) == MEMORY_DUMP + 3  # the control solution is not among them
    bp = [v for v in values if v.get("systolic_mmhg") == 150.0]
    assert len(bp) == 1
    assert (bp[0]["diastolic_mmhg"], bp[0]["pulse_bpm"]) == (95.0, 72.0)
    hi = [v for v in values if v.get("hi")]
    assert len(hi) == 1 and hi[0]["glucose_mgdl"] is None and not hi[0]["lo"]
    fasting = [v for v in values if v.get("glucose_mgdl") == 250.0]
    assert len(fasting) == 1 and fasting[0]["meal"] == "fasting"
    assert not any(v.get("control_solution") for v in values)

    # Held for the kiosk: the resident's measure step takes it instead of a random value.
    done = demo.measure("--bp", "185/110", "--pulse", "88", "--at-kiosk")
    assert done.returncode == 0, done.stderr
    assert "Disimpan untuk kios" in done.stdout
    assert demo.stored_within(7, lambda s: bool(s)) == []  # not measured yet
    with HttpResident(f"http://127.0.0.1:{demo.kiosk_port}", NIK_A, "1985") as visit:
        visit.identify_and_choose(Kind.BLOOD_PRESSURE)
        visit.ready()
        result = visit.wait_result(timeout=ARRIVAL_S)
        visit.finish()
    assert "185" in result and "110" in result
    got = demo.stored_within(ARRIVAL_S, lambda s: bool(s))
    assert len(got) == 1 and "BP 185.0/110.0 mmHg pulse 88.0" in got[0], demo.seen
    kiosk = [p for p in demo.central_payloads() if p["values"].get("systolic_mmhg") == 185.0]
    assert len(kiosk) == 1 and kiosk[0]["bound"] and kiosk[0]["subject"] is not None
