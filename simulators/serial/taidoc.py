"""A TaiDoc TD-42xx glucose meter (or TaiDoc/FORA BP monitor) on a pty.

Answers each 8-byte request frame with one reply frame built by `drivers.serial.taidoc`.
Memory is newest first (record 0 = newest), the clock is true time + drift in the site zone,
and a set-clock command moves the drift so the meter then reads the time it was given. Requests
with a bad checksum are ignored (a real meter stays silent), as are bytes that never form one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import DEFAULT_SITE_TZ, site_zone, utc_now
from drivers.errors import DecodeError
from drivers.serial import taidoc
from drivers.serial.device_time import local_to_utc, utc_to_local
from simulators.serial.pty import PtyFaults, PtyMeter


@dataclass(frozen=True, slots=True)
class StoredRecord:
    taken_at: datetime  # naive meter-local
    value: taidoc.GlucoseValue | taidoc.BpValue


class TaiDocMeter(PtyMeter):
    def __init__(
        self,
        records: Sequence[StoredRecord],
        *,
        model: str = "4277",
        serial: str | None = "42770001",
        clock: Callable[[], datetime] | None = None,
        drift_s: float = 0.0,
        site_tz: str = DEFAULT_SITE_TZ,
        faults: PtyFaults | None = None,
    ) -> None:
        super().__init__(faults=faults, name="taidoc")
        if serial is not None and len(serial) != 8:
            raise ValueError("TaiDoc simulator serial must be 8 characters (two 4-byte parts)")
        self.records = list(records)  # newest first
        self.model = model
        self.serial = serial
        self._clock = clock or utc_now
        self.drift_s = drift_s
        self._zone = site_zone(site_tz)
        self.clock_sets: list[datetime] = []
        self.cleared = False
        self._buffer = bytearray()

    def meter_time(self) -> datetime:
        return utc_to_local(self._clock() + timedelta(seconds=self.drift_s), self._zone)

    def reset_link_state(self) -> None:
        self._buffer.clear()

    def handle(self, data: bytes) -> bytes | None:
        self._buffer += data
        replies = b""
        while True:
            frame, used = taidoc.find_frame(bytes(self._buffer), direction=taidoc.TO_METER)
            del self._buffer[:used]
            if frame is None:
                break
            reply = self._answer(frame)
            if reply is not None:
                replies += taidoc.encode_frame(
                    taidoc.Frame(reply[0], reply[1], taidoc.FROM_METER)
                )
        return replies or None

    def _answer(self, frame: taidoc.Frame) -> tuple[int, bytes] | None:
        cmd = frame.command
        C = taidoc.Command
        if cmd == C.CONNECT:
            return cmd, b"\x00\x00\x00\x00"
        if cmd == C.MODEL:
            return cmd, taidoc.encode_model(self.model)
        if cmd in (C.SERIAL_1, C.SERIAL_2):
            if self.serial is None:
                return None
            part = self.serial[:4] if cmd == C.SERIAL_1 else self.serial[4:]
            return cmd, taidoc.encode_serial_part(part)
        if cmd == C.CLOCK:
            return cmd, taidoc.encode_datetime(self.meter_time())
        if cmd == C.SET_CLOCK:
            try:
                wanted = taidoc.decode_datetime(frame.payload)
            except DecodeError:
                return None
            self.clock_sets.append(wanted)
            self.drift_s = (local_to_utc(wanted, self._zone) - self._clock()).total_seconds()
            return cmd, taidoc.encode_datetime(wanted)
        if cmd == C.RECORD_COUNT:
            return cmd, taidoc.encode_count(len(self.records))
        if cmd in (C.RECORD_TIME, C.RECORD_VALUE):
            index = taidoc.decode_record_index(frame.payload)
            if index >= len(self.records):
                return None
            record = self.records[index]
            if cmd == C.RECORD_TIME:
                return cmd, taidoc.encode_datetime(record.taken_at)
            value = record.value
            if isinstance(value, taidoc.BpValue):
                return cmd, taidoc.encode_bp(value)
            return cmd, taidoc.encode_glucose(value)
        if cmd == C.CLEAR:
            self.records.clear()
            self.cleared = True
            return cmd, b"\x00\x00\x00\x00"
        return None

    def add_record(self, record: StoredRecord) -> None:
        """A new test on the meter: it becomes record 0."""
        self.records.insert(0, record)


def sample_records(
    count: int, *, newest: datetime, blood_pressure: bool = False
) -> list[StoredRecord]:
    """`count` records 90 minutes apart, newest first, starting at `newest` (naive)."""
    out: list[StoredRecord] = []
    meals = (0x00, 0x40, 0x80)
    for i in range(count):
        taken = (newest - timedelta(minutes=90 * i)).replace(second=0, microsecond=0)
        value: taidoc.GlucoseValue | taidoc.BpValue
        if blood_pressure:
            value = taidoc.BpValue(
                systolic=110 + (i * 7) % 60, diastolic=70 + (i * 3) % 25, pulse=60 + i % 30,
                extra=0,
            )
        else:
            meal = meals[i % 3]
            value = taidoc.GlucoseValue(
                mgdl=70 + (i * 23) % 250, meal=taidoc.MEAL_FLAGS[meal], unknown=0, meal_byte=meal
            )
        out.append(StoredRecord(taken, value))
    return out


def _make(
    blood_pressure: bool,
    records: int,
    faults: PtyFaults | None,
    clock: Callable[[], datetime] | None,
    drift_s: float,
) -> TaiDocMeter:
    now = clock or utc_now
    newest = utc_to_local(now() + timedelta(seconds=drift_s), site_zone(DEFAULT_SITE_TZ))
    return TaiDocMeter(
        sample_records(records, newest=newest - timedelta(minutes=3),
                       blood_pressure=blood_pressure),
        model="3128" if blood_pressure else "4277",
        clock=clock,
        drift_s=drift_s,
        faults=faults,
    )


def make_simulator(
    *,
    records: int,
    faults: PtyFaults | None = None,
    clock: Callable[[], datetime] | None = None,
    drift_s: float = 0.0,
) -> TaiDocMeter:
    return _make(False, records, faults, clock, drift_s)


def make_bp_simulator(
    *,
    records: int,
    faults: PtyFaults | None = None,
    clock: Callable[[], datetime] | None = None,
    drift_s: float = 0.0,
) -> TaiDocMeter:
    return _make(True, records, faults, clock, drift_s)
