"""`gempita demo measure` without a running demo: its arguments, the records `take_chosen`
stores (decoded back through the gateway's own codecs), the held-for-the-kiosk value, and the
control socket's codec and server."""

from __future__ import annotations

import asyncio
import os
import random
import stat
from pathlib import Path

import pytest

from core.reading import Glucose, Kind
from drivers.ble.bp import decode_bp_measurement
from drivers.ble.convert import glucose_values
from drivers.ble.glucose import (
    decode_glucose_context,
    decode_glucose_measurement,
    encode_glucose_context,
    encode_glucose_measurement,
)
from drivers.ble.ieee11073 import Special
from drivers.ble.quirks import drop_reason
from gateway.cli import main
from simulators.ble.backend import Air
from simulators.ble.cli import demo_air
from simulators.ble.devices import BpMonitor, GlucoseMeter, StoredGlucose
from simulators.ble.resident import (
    ChosenBp,
    ChosenGlucose,
    DemoResident,
    NoMeterError,
    Placed,
    take_chosen,
)
from simulators.demo_socket import (
    MalformedMessageError,
    MeasureReply,
    MeasureRequest,
    ask,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    serve,
)

# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--bp", "95/150"], "SISTOLIK/DIASTOLIK"),
        (["--bp", "abc"], "SISTOLIK/DIASTOLIK"),
        (["--bp", "150/"], "SISTOLIK/DIASTOLIK"),
        (["--bp", "150-95"], "SISTOLIK/DIASTOLIK"),
        (["--bp", "400/95"], "SISTOLIK/DIASTOLIK"),
        (["--bp", "150/95", "--pulse", "fast"], "denyut/menit"),
        (["--glucose", "banyak"], "HI / LO"),
        (["--glucose", "5"], "HI / LO"),
        (["--pulse", "72"], "--pulse hanya bersama --bp"),
        (["--bp", "150/95", "--fasting"], "--fasting hanya bersama --glucose"),
        (["--bp", "150/95", "--glucose", "100"], "pilih satu"),
        (["--bp", "150/95", "--control-solution"], "pilih satu"),
        ([], "pilih satu"),
    ],
)
def test_bad_measure_arguments_are_usage_errors_naming_the_expected_form(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "measure", "--state-dir", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "demo tidak berjalan" not in err  # refused before asking any demo


def test_measure_without_a_running_demo_says_so_in_bahasa_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "measure", "--state-dir", str(tmp_path), "--glucose", "HI"])
    assert code == 1
    err = capsys.readouterr().err
    assert "demo tidak berjalan: jalankan `make demo` dulu" in err
    assert str(tmp_path / "demo.sock") in err


# --- records ---------------------------------------------------------------------------------


def _air() -> Air:
    return demo_air(devices=("bp", "glucose"), bp_records=0, glucose_records=0)


def _last_glucose(air: Air) -> StoredGlucose:
    meter = next(p for p in air.peripherals if isinstance(p, GlucoseMeter))
    return meter.records[-1]


def _decoded(record: StoredGlucose) -> Glucose:
    """The record as the gateway's session sees it: its bytes decoded and converted."""
    measurement = decode_glucose_measurement(encode_glucose_measurement(record.measurement))
    context = (
        None if record.context is None
        else decode_glucose_context(encode_glucose_context(record.context))
    )
    assert drop_reason(measurement, context) is None
    return glucose_values(measurement, context)


def test_chosen_bp_is_the_monitors_newest_record() -> None:
    air = _air()
    assert take_chosen(air, ChosenBp(150, 95, 72))
    monitor = next(p for p in air.peripherals if isinstance(p, BpMonitor))
    decoded = decode_bp_measurement(monitor.encode_record(monitor.records[-1]))
    assert (decoded.systolic.value, decoded.diastolic.value) == (150.0, 95.0)
    assert decoded.pulse_rate is not None and decoded.pulse_rate.value == 72.0
    assert decoded.time_stamp is not None


@pytest.mark.parametrize(
    ("chosen", "special", "status", "hi_lo"),
    [
        (ChosenGlucose(hi=True), Special.POSITIVE_INFINITY, "result_too_high", (True, False)),
        (ChosenGlucose(lo=True), Special.NEGATIVE_INFINITY, "result_too_low", (False, True)),
    ],
    ids=["HI", "LO"],
)
def test_chosen_hi_lo_carry_the_status_bit_and_an_infinity(
    chosen: ChosenGlucose, special: Special, status: str, hi_lo: tuple[bool, bool]
) -> None:
    air = _air()
    take_chosen(air, chosen)
    record = _last_glucose(air)
    raw = decode_glucose_measurement(encode_glucose_measurement(record.measurement))
    assert raw.concentration is not None
    assert raw.concentration.special is special
    assert status in raw.sensor_status_names
    values = _decoded(record)
    assert (values.hi, values.lo, values.glucose_mgdl) == (*hi_lo, None)


def test_chosen_fasting_glucose_has_the_fasting_meal_context() -> None:
    air = _air()
    take_chosen(air, ChosenGlucose(250, fasting=True))
    record = _last_glucose(air)
    assert record.measurement.context_follows
    values = _decoded(record)
    assert values.glucose_mgdl == 250.0
    assert values.meal == "fasting"
    assert not (values.hi or values.lo or values.control_solution)


def test_chosen_glucose_without_fasting_leaves_the_meal_to_the_kiosk() -> None:
    air = _air()
    take_chosen(air, ChosenGlucose(140))
    record = _last_glucose(air)
    assert record.context is None and not record.measurement.context_follows
    assert _decoded(record).meal is None


def test_chosen_control_solution_is_marked_as_the_profile_does_and_dropped() -> None:
    air = _air()
    take_chosen(air, ChosenGlucose(control_solution=True))
    record = _last_glucose(air)
    raw = decode_glucose_measurement(encode_glucose_measurement(record.measurement))
    assert raw.is_control_solution
    assert raw.sample_type_name == "control_solution"
    assert raw.sample_location_name == "control_solution"
    concentration = raw.concentration
    assert concentration is not None and concentration.value == pytest.approx(120e-5)
    # What the gateway's glucose session does with it: not a resident's reading.
    assert drop_reason(raw, None) == "control_solution"


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChosenBp(95, 150),
        lambda: ChosenBp(150, 95, 10),
        lambda: ChosenGlucose(),
        lambda: ChosenGlucose(250, hi=True),
        lambda: ChosenGlucose(hi=True, lo=True),
        lambda: ChosenGlucose(900),
    ],
)
def test_impossible_chosen_values_are_refused(make: object) -> None:
    assert callable(make)
    with pytest.raises(ValueError, match=r"."):
        make()


def test_a_value_held_for_the_kiosk_is_taken_by_its_next_measure_request() -> None:
    air = _air()
    resident = DemoResident(air, random.Random(7))
    meter = next(p for p in air.peripherals if isinstance(p, GlucoseMeter))
    assert resident.choose(ChosenGlucose(hi=True), at_kiosk=True) is Placed.KIOSK
    assert meter.records == []  # not measured yet
    resident.on_kiosk_request(Kind.BLOOD_PRESSURE.value)  # another kind: random, keeps it
    assert resident.held(Kind.GLUCOSE) == 1
    resident.on_kiosk_request(Kind.GLUCOSE.value)
    assert meter.records[-1].measurement.is_high
    resident.on_kiosk_request(Kind.GLUCOSE.value)  # nothing held: a random resident
    assert len(meter.records) == 2
    assert not meter.records[-1].measurement.is_high


def test_choosing_a_kind_the_demo_has_no_meter_for_is_an_error() -> None:
    resident = DemoResident(demo_air(devices=("bp",)), random.Random(1))
    with pytest.raises(NoMeterError):
        resident.choose(ChosenGlucose(100))


# --- socket ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chosen",
    [
        ChosenBp(150, 95, 72),
        ChosenBp(120, 80),
        ChosenGlucose(250, fasting=True),
        ChosenGlucose(hi=True),
        ChosenGlucose(lo=True),
        ChosenGlucose(control_solution=True),
    ],
)
def test_requests_round_trip(chosen: ChosenBp | ChosenGlucose) -> None:
    request = MeasureRequest(chosen, at_kiosk=isinstance(chosen, ChosenBp))
    assert decode_request(encode_request(request)) == request


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\xff\xfe\n",
        b"[1, 2]\n",
        b'{"kind": "weight"}\n',
        b'{"kind": "blood_pressure", "systolic": "150", "diastolic": 95}\n',
        b'{"kind": "blood_pressure", "systolic": true, "diastolic": 95}\n',
        b'{"kind": "blood_pressure", "systolic": 95, "diastolic": 150}\n',
        b'{"kind": "glucose", "mgdl": 100, "hi": 1}\n',
        b'{"kind": "glucose"}\n',
        b"[" * 5000 + b"\n",
    ],
)
def test_garbage_requests_are_malformed_errors(line: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        decode_request(line)


def test_replies_round_trip() -> None:
    for reply in (MeasureReply(placed=Placed.MEMORY), MeasureReply(error="no_meter", detail="x")):
        assert decode_reply(encode_reply(reply)) == reply


async def test_socket_serves_requests_owner_only_and_is_removed_at_the_end(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo.sock"
    seen: list[MeasureRequest] = []

    def handle(request: MeasureRequest) -> MeasureReply:
        seen.append(request)
        return MeasureReply(placed=Placed.MEMORY)

    server = asyncio.create_task(serve(path, handle), name="demo-control-socket")
    try:
        async with asyncio.timeout(5):
            while not path.exists():
                await asyncio.sleep(0.01)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        request = MeasureRequest(ChosenBp(150, 95, 72))
        async with asyncio.timeout(10):
            reply = await asyncio.to_thread(ask, path, request, 5.0)
        assert reply == MeasureReply(placed=Placed.MEMORY)
        assert seen == [request]
        # A malformed line gets an answer too, and the server keeps serving.
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b'{"kind": "weight"}\n')
        async with asyncio.timeout(5):
            answer = decode_reply(await reader.readline())
        writer.close()
        await writer.wait_closed()
        assert answer.error == "malformed"
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    assert not path.exists()
