"""Issue 5 end to end: the kiosk served by the real Gateway, over real BLE sessions with the
simulated meters, through the real outbox and mosquitto, to the real central service.

Nothing on the path between the resident's screen and central's table is replaced: the
kiosk's "Siap" claims the device in the gateway's binder and asks the (simulated) resident to
measure, the BLE runner reads the new record, the gateway's DeviceSink binds and commits it,
the page shows it only after the commit, and the publisher carries it to central.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from core.reading import SCHEMA_READING, Kind, age_band
from kiosk.nik import age_on
from kiosk.privacy import pseudonym, unseal
from tests.support.mosquitto import Mosquitto

from .helpers import (
    NIK_A,
    NIK_B,
    PROGRAMME_KEY,
    HttpResident,
    Planned,
    Stack,
    after,
    running_stack,
)

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SHOTS = Path(__file__).resolve().parents[1] / "screenshots"
KIOSK_VIEW: ViewportSize = {"width": 800, "height": 480}


@pytest.fixture
def stack(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Stack]:
    with running_stack(tmp_path, mosquitto) as running:
        running.wait_device_synced()
        yield running


def text_of(html: str) -> str:
    main = html[html.find("<main") :]
    return " ".join(re.sub(r"<[^>]+>", " ", main[: main.find("</main>")]).split())


def bp_of(row: dict[str, Any]) -> tuple[float, float] | None:
    if row["kind"] != Kind.BLOOD_PRESSURE.value:
        return None
    values = row["values"]
    return values["systolic_mmhg"], values["diastolic_mmhg"]


# What central's cascade may know of each test resident: region of issue, sex, birth date (the
# last only to work out the band the kiosk should have sent; it is never in the payload).
CASCADE = {
    NIK_A: ("647103", "male", date(1985, 8, 17)),
    NIK_B: ("317104", "female", date(2000, 2, 3)),  # day 43 in the NIK: a woman
}


def cascade_fields(nik: str, measured_at: str) -> dict[str, str]:
    region, sex, born = CASCADE[nik]
    # The band on the kiosk's own day of measurement (Balikpapan, WITA).
    day = datetime.fromisoformat(measured_at).astimezone(ZoneInfo("Asia/Makassar")).date()
    return {"region": region, "sex": sex, "age_band": age_band(age_on(born, day))}


def check_bound(stack: Stack, row: dict[str, Any], nik: str) -> None:
    """Central's copy of a screening reading carries the resident, protected."""
    assert row["bound"] is True, row
    assert row["schema"] == SCHEMA_READING == "gempita.reading/2"
    assert row["assurance"] is None  # until the kit-assurance work fills it
    subject = row["subject"]
    assert subject["pseudonym"] == pseudonym(nik, PROGRAMME_KEY)
    assert unseal(subject["sealed_nik"], stack.keys.private_key) == nik
    assert subject["consent_version"] == "2026.1"
    assert subject["session_id"] and subject["performer"] == "self"
    wanted = cascade_fields(nik, row["measured_at"])
    assert {k: subject[k] for k in wanted} == wanted, subject


# --- 1. a resident at the kiosk, in Chromium --------------------------------------------------


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"e2e-{name}.png"), full_page=True)


@pytest.mark.browser
def test_bp_and_glucose_screening_in_chromium_reach_central_bound(stack: Stack) -> None:
    started = datetime.now(UTC)
    # Grade 2 (systolic band wins); random glucose 212 mg/dL is "possible diabetes".
    stack.resident.plan[Kind.BLOOD_PRESSURE].append(Planned(163, 94, 77, after_s=1.5))
    stack.resident.plan[Kind.GLUCOSE].append(Planned(glucose_mgdl=212))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport=KIOSK_VIEW)
        page = context.new_page()
        page.goto(stack.url + "/")
        shot(page, "1-welcome")
        page.get_by_role("button", name="Bahasa Indonesia").click()
        page.get_by_role("button", name="Saya berusia 18 tahun ke atas").click()
        page.wait_for_url("**/identitas")
        page.get_by_label("NIK").fill(NIK_A)
        page.get_by_label("Tahun lahir").fill("1985")
        page.get_by_role("button", name="Lanjut").click()
        page.wait_for_url("**/pilih")
        page.get_by_label("Tekanan darah").check()
        page.get_by_label("Gula darah").check()
        page.get_by_label("Tidak puasa").check()
        shot(page, "2-choose")
        page.get_by_role("button", name="Lanjut").click()
        page.wait_for_url("**/petunjuk")
        page.get_by_role("button", name="Siap").click()
        page.wait_for_url("**/ukur")
        # The monitor's live cuff pressure (0x2A36) reaches the screen while the cuff works.
        page.get_by_text("90 mmHg").wait_for(timeout=5000)
        shot(page, "3-measuring-bp")
        page.wait_for_url("**/hasil", timeout=15000)
        body = page.inner_text("main")
        assert "163/94 mmHg" in body and "Hipertensi derajat 2" in body, body
        assert "77 /menit" in body
        shot(page, "4-result-bp")
        page.get_by_role("link", name="Lanjut: gula darah").click()
        page.wait_for_url("**/petunjuk")
        page.get_by_role("button", name="Siap").click()
        # The meter answers at once, so /ukur may already have moved on to /hasil
        # before the browser reports its load: wait only for the result.
        page.wait_for_url("**/hasil", timeout=15000)
        body = page.inner_text("main")
        assert "Gula darah sewaktu" in body and "212 mg/dL" in body, body
        assert "Diduga diabetes" in body and "163/94 mmHg" in body
        assert NIK_A not in page.content()
        shot(page, "5-result-both")
        page.get_by_role("button", name="Selesai").click()
        page.wait_for_url("**/?m=ended")
        shot(page, "6-finished")
        context.close()
        browser.close()
    assert stack.resident.requested == ["blood_pressure", "glucose"]

    # Somebody uses the BP monitor with no visit open: stored, but nobody's.
    from random import Random

    from simulators.ble.resident import take_measurement

    assert take_measurement(stack.air, Kind.BLOOD_PRESSURE, Random(7))
    walk_up = stack.air.peripherals[0].records[-1]  # type: ignore[attr-defined]

    def complete(rows: list[dict[str, Any]]) -> bool:
        fresh = after(started, rows)
        return sum(r["bound"] for r in fresh) == 2 and any(
            bp_of(r) == (walk_up.systolic, walk_up.diastolic) for r in fresh
        )

    rows = stack.wait_central(complete)
    bound = [r for r in rows if r["bound"]]
    assert len(bound) == 2, bound
    by_kind = {r["kind"]: r for r in bound}
    assert bp_of(by_kind["blood_pressure"]) == (163, 94)
    assert by_kind["glucose"]["values"]["glucose_mgdl"] == 212
    assert by_kind["glucose"]["values"]["meal"] == "casual"  # the resident's answer
    for row in bound:
        check_bound(stack, row, NIK_A)
    assert (
        by_kind["glucose"]["subject"]["session_id"]
        == by_kind["blood_pressure"]["subject"]["session_id"]
    )
    unbound = [r for r in rows if not r["bound"]]
    # The meters' memory from before (2 BP + 3 glucose) and the walk-up measurement.
    assert len(unbound) == 6, unbound
    assert all(r["subject"] is None for r in unbound)
    assert any(bp_of(r) == (walk_up.systolic, walk_up.diastolic) for r in unbound)


# --- 2. no NIK in clear anywhere --------------------------------------------------------------


def test_nik_never_stored_logged_or_sent_in_clear(stack: Stack) -> None:
    stack.resident.plan[Kind.GLUCOSE].append(Planned(glucose_mgdl=97))
    with HttpResident(stack.url, NIK_B, "2000") as visit:
        visit.identify_and_choose(Kind.GLUCOSE, fasting="yes")
        visit.ready()
        page = visit.wait_result()
        assert "97 mg/dL" in page and "Gula darah puasa" in page
        visit.finish()
    rows = stack.wait_central(lambda rows: any(r["bound"] for r in rows))
    (row,) = [r for r in rows if r["bound"]]
    check_bound(stack, row, NIK_B)
    # Let the receipt come back and the outbox write its state, so the files are final.
    time.sleep(0.5)

    spaced = f"{NIK_B[:4]} {NIK_B[4:8]} {NIK_B[8:12]} {NIK_B[12:]}"
    # The region (the NIK's first six digits) is sent on purpose; what follows it never is.
    forms = [NIK_B.encode(), spaced.encode(), NIK_B.encode("utf-16-le"), NIK_B[6:].encode()]
    assert row["subject"]["region"] == NIK_B[:6]
    subject_key = row["subject"]["pseudonym"].encode()

    def files(path: Path) -> bytes:
        return b"".join(
            p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
        )

    outbox = files(stack.outbox_path)
    central = files(stack.central_db)
    logs = "\n".join(stack.logs.lines).encode()
    mqtt = b"\n".join(payload for _topic, payload in stack.spy.messages)
    # Each scan looks at real data: the screening's pseudonym is in the stores and on the wire,
    # and the log holds the whole run down to DEBUG.
    assert subject_key in outbox and subject_key in central and subject_key in mqtt
    assert b"gateway gw-e2e ready" in logs and b" DEBUG " in logs and b"kiosk" in logs
    # The kiosk's request paths (kader pages carry visit ids) stay out of the log.
    assert b"uvicorn.access" not in logs and b"GET /" not in logs
    assert any(topic.endswith("/status") for topic, _ in stack.spy.messages)
    for name, blob in (("outbox", outbox), ("central", central), ("log", logs), ("mqtt", mqtt)):
        for form in forms:
            assert form not in blob, f"NIK in clear in the {name}"
    # The birth date as the NIK writes it (day + 40, month, year) is not on the wire either.
    assert NIK_B[6:12].encode() not in mqtt


# --- 3. two residents, one monitor ------------------------------------------------------------


def test_two_residents_on_one_monitor_each_get_their_own_reading(stack: Stack) -> None:
    started = datetime.now(UTC)
    plan = stack.resident.plan[Kind.BLOOD_PRESSURE]
    plan += [Planned(118, 76, 64, after_s=1.0), Planned(171, 104, 90, after_s=1.0)]
    with HttpResident(stack.url, NIK_A, "1985") as a, HttpResident(stack.url, NIK_B, "2000") as b:
        a.identify_and_choose(Kind.BLOOD_PRESSURE)
        b.identify_and_choose(Kind.BLOOD_PRESSURE)
        a.ready()
        # Overlapping: b is refused while a's visit waits for the monitor.
        busy = b.ready()
        assert str(busy.url).endswith("/petunjuk") and "Alat sedang dipakai" in busy.text
        page_a = a.wait_result()
        assert "118/76 mmHg" in page_a and "Optimal" in page_a, text_of(page_a)
        a.finish()
        # Right after: b's turn on the same monitor, which re-sends a's reading every session.
        b.page = b.client.get("/petunjuk").text
        b.ready()  # while b's cuff inflates, the monitor's sessions re-send a's record
        page_b = b.wait_result()
        assert "171/104 mmHg" in page_b and "Hipertensi derajat 2" in page_b, text_of(page_b)
        assert "118/76" not in page_b
        b.finish()
    assert stack.resident.requested == ["blood_pressure", "blood_pressure"]

    rows = stack.wait_central(lambda rows: sum(r["bound"] for r in after(started, rows)) == 2)
    bound = {bp_of(r): r for r in rows if r["bound"]}
    assert set(bound) == {(118, 76), (171, 104)}
    check_bound(stack, bound[(118, 76)], NIK_A)
    check_bound(stack, bound[(171, 104)], NIK_B)
    sessions = {r["subject"]["session_id"] for r in bound.values()}
    assert len(sessions) == 2
