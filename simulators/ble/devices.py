"""Simulated BLE meters: standard BLS/GLS devices, one per quirk family, and their faults.

Every byte a simulated device sends is produced by the encode side of the codecs in
`drivers/ble/` (`encode_bp_measurement`, `encode_glucose_measurement`, `encode_racp_response`,
...), so a simulator and a driver cannot silently agree on a wrong byte.

Device clocks: a device keeps local wall-clock time in `tz` (default WITA); its "now" is the
injected UTC clock plus `drift_s`. Records carry the device's local time as it was then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bleak.exc import BleakGATTProtocolError, BleakGATTProtocolErrorCode

from core.clock import DEFAULT_SITE_TZ
from core.units import MMHG_PER_KPA, mgdl_to_mmoll
from drivers.ble import uuids
from drivers.ble.bp import (
    BloodPressureFeature,
    BloodPressureMeasurement,
    IntermediateCuffPressure,
    PressureUnit,
    encode_bp_feature,
    encode_bp_measurement,
    encode_bp_measurement_beurer,
    encode_intermediate_cuff_pressure,
)
from drivers.ble.datetime_codec import (
    BleDateTime,
    CurrentTime,
    decode_current_time,
    decode_date_time,
    encode_current_time,
    encode_date_time,
)
from drivers.ble.glucose import (
    SAMPLE_TYPE_CONTROL_SOLUTION,
    STATUS_HIGH,
    STATUS_LOW,
    GlucoseContext,
    GlucoseFeature,
    GlucoseMeasurement,
    GlucoseUnit,
    encode_glucose_context,
    encode_glucose_feature,
    encode_glucose_measurement,
)
from drivers.ble.ieee11073 import Numeric, Special
from drivers.ble.quirks import ISENS_TIME_HEADER, isens_set_time_command
from drivers.ble.racp import (
    ATT_CCCD_IMPROPERLY_CONFIGURED,
    ATT_PROCEDURE_ALREADY_IN_PROGRESS,
    NumberOfRecordsResponse,
    Opcode,
    Operator,
    RacpRequest,
    ResponseCode,
    ResponseCodeResponse,
    decode_racp_request,
    encode_racp_response,
)
from drivers.errors import DecodeError
from simulators.ble.peripheral import Characteristic, GattPeripheral, Service

_LOGGER = logging.getLogger(__name__)

KPA_PER_MMHG = 1 / float(MMHG_PER_KPA)
WITA = DEFAULT_SITE_TZ

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeviceClock:
    """A meter's wall clock: the gateway's UTC clock shifted by a drift, shown in `tz`.

    `drift_s` is the offset now; `drift_ppm` makes it grow (a quartz running fast or slow) from
    the moment the clock was made or last set.
    """

    def __init__(
        self,
        clock: Clock = _utc_now,
        *,
        drift_s: float = 0.0,
        tz: str = WITA,
        drift_ppm: float = 0.0,
    ) -> None:
        self._clock = clock
        self.drift_s = drift_s
        self.drift_ppm = drift_ppm
        self.zone = ZoneInfo(tz)
        self._anchor = clock() if drift_ppm else None

    def utc_now(self) -> datetime:
        """The true (gateway) time the device clock follows."""
        return self._clock()

    def local_at(self, moment: datetime) -> datetime:
        """What the device's clock shows (or showed) at the true UTC instant `moment`."""
        drift = self.drift_s
        if self._anchor is not None:
            drift += (moment - self._anchor).total_seconds() * self.drift_ppm / 1e6
        shown = moment + timedelta(seconds=drift)
        return shown.astimezone(self.zone).replace(tzinfo=None)

    def local_now(self) -> datetime:
        return self.local_at(self._clock())

    def set_local(self, local: datetime) -> None:
        """The gateway wrote the clock: from now on the device shows `local` + elapsed."""
        now = self._clock()
        actual = now.astimezone(self.zone).replace(tzinfo=None)
        self.drift_s = (local - actual).total_seconds()
        if self._anchor is not None:
            self._anchor = now


def battery_service(percent: int) -> Service:
    return Service(
        f"{uuids.BATTERY_SERVICE:04x}",
        [Characteristic(f"{uuids.BATTERY_LEVEL:04x}", ("read",), bytes([percent]))],
    )


def dis_service(
    *,
    manufacturer: str | None,
    model: str | None,
    serial: str | None,
    firmware: str | None = None,
) -> Service:
    chars = [
        Characteristic(f"{uuid:04x}", ("read",), value.encode())
        for uuid, value in (
            (uuids.MANUFACTURER_NAME_STRING, manufacturer),
            (uuids.MODEL_NUMBER_STRING, model),
            (uuids.SERIAL_NUMBER_STRING, serial),
            (uuids.FIRMWARE_REVISION_STRING, firmware),
        )
        if value is not None
    ]
    return Service(f"{uuids.DEVICE_INFORMATION_SERVICE:04x}", chars)


# --------------------------------------------------------------------------------------------
# Blood pressure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BpRecord:
    """One stored result, in mmHg as the monitor measured it."""

    systolic: float
    diastolic: float
    pulse: float | None
    taken_at: datetime | None  # device local time; None: monitor without a clock stamp
    map_mmhg: float | None = None
    status: int | None = None
    user_id: int | None = None


def bp_measurement(record: BpRecord, unit: PressureUnit) -> BloodPressureMeasurement:
    """The 0x2A35 value object for a stored record (kPa rounded to 0.1 as monitors do)."""

    def pressure(mmhg: float | None) -> Numeric:
        if mmhg is None:
            return Numeric.of_special(Special.NAN)
        if unit is PressureUnit.KPA:
            return Numeric.from_value(f"{mmhg * KPA_PER_MMHG:.1f}")
        return Numeric.from_value(f"{mmhg:g}")

    map_mmhg = record.map_mmhg
    if map_mmhg is None:
        map_mmhg = round(record.diastolic + (record.systolic - record.diastolic) / 3)
    return BloodPressureMeasurement(
        systolic=pressure(record.systolic),
        diastolic=pressure(record.diastolic),
        mean_arterial_pressure=pressure(map_mmhg),
        unit=unit,
        time_stamp=BleDateTime.from_datetime(record.taken_at) if record.taken_at else None,
        pulse_rate=Numeric.from_value(f"{record.pulse:g}") if record.pulse is not None else None,
        user_id=record.user_id,
        status=record.status,
    )


class BpMonitor(GattPeripheral):
    """A standard Blood Pressure Service monitor (Omron-like).

    Once indications on 0x2A35 are enabled it optionally replays a measurement's cuff pressure
    on 0x2A36, indicates every unsent stored result (waiting for each confirmation), and
    disconnects by itself `disconnect_after_s` later.
    """

    def __init__(
        self,
        *,
        address: str = "00:5F:BF:10:00:01",
        name: str = "BLESmart_0000011E",
        records: Sequence[BpRecord] = (),
        unit: PressureUnit = PressureUnit.MMHG,
        cuff_pressures: Sequence[float] = (),
        manufacturer: str | None = "OMRON HEALTHCARE",
        model: str | None = "HEM-7155T",
        serial: str | None = "20240501001",
        firmware: str | None = "1.0",
        disconnect_after_s: float = 0.01,
        delete_after_send: bool = False,
        unsent_only: bool = False,
        requires_bond: bool = False,
        clock: DeviceClock | None = None,
        settle_s: float = 0.0,
        send_interval_s: float = 0.0,
        battery_pct: int | None = None,
        clock_readable: bool = False,
        disconnect_after_records: int | None = None,
        disconnect_sessions: int | None = None,
    ) -> None:
        self.records = list(records)
        self.unit = unit
        # Field fault: the link drops after this many results in a session (only in the first
        # `disconnect_sessions` connections when that is set: a monitor that re-sends its
        # whole memory would otherwise never finish).
        self.disconnect_after_records = disconnect_after_records
        self.disconnect_sessions = disconnect_sessions
        self.cuff_pressures = list(cuff_pressures)
        self.disconnect_after_s = disconnect_after_s
        self.delete_after_send = delete_after_send
        self.unsent_only = unsent_only  # each result is sent once (A&D), else every session
        self.clock = clock or DeviceClock()
        self.settle_s = settle_s  # subscribing sooner than this after connect: stays silent
        self.send_interval_s = send_interval_s
        self.sent: set[int] = set()  # indices confirmed by the central (unsent-only devices)
        self.clock_writes: list[BleDateTime] = []
        self._connected_at = 0.0
        bp_chars = [
            Characteristic(
                f"{uuids.BLOOD_PRESSURE_MEASUREMENT:04x}", ("indicate",), secure=requires_bond
            ),
            Characteristic(
                f"{uuids.BLOOD_PRESSURE_FEATURE:04x}",
                ("read",),
                encode_bp_feature(BloodPressureFeature(0x0007)),
            ),
        ]
        if cuff_pressures:
            bp_chars.append(
                Characteristic(f"{uuids.INTERMEDIATE_CUFF_PRESSURE:04x}", ("notify",))
            )
        if clock_readable:
            # A monitor whose clock a central can read and set (Date Time 0x2A08).
            bp_chars.append(
                Characteristic(
                    f"{uuids.DATE_TIME:04x}", ("read", "write"),
                    on_read=self.read_clock, on_write=self.write_clock,
                )
            )
        super().__init__(
            address=address,
            name=name,
            services=[
                Service(f"{uuids.BLOOD_PRESSURE_SERVICE:04x}", bp_chars),
                dis_service(
                    manufacturer=manufacturer, model=model, serial=serial, firmware=firmware
                ),
                *([battery_service(battery_pct)] if battery_pct is not None else []),
            ],
            advertised_services=[f"{uuids.BLOOD_PRESSURE_SERVICE:04x}"],
            requires_bond=requires_bond,
        )

    def encode_record(self, record: BpRecord) -> bytes:
        return encode_bp_measurement(bp_measurement(record, self.unit))

    async def read_clock(self) -> bytes:
        return encode_date_time(BleDateTime.from_datetime(self.clock.local_now()))

    async def write_clock(self, data: bytes, response: bool) -> None:
        value = decode_date_time(data)
        local = value.to_datetime()
        if local is None:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.VALUE_NOT_ALLOWED)
        self.clock_writes.append(value)
        self.clock.set_local(local)

    def _drops_now(self, sent: int) -> bool:
        if self.disconnect_after_records is None or sent < self.disconnect_after_records:
            return False
        return self.disconnect_sessions is None or self.connections <= self.disconnect_sessions

    def encode_cuff(self, mmhg: float) -> bytes:
        value = (
            Numeric.from_value(f"{mmhg * KPA_PER_MMHG:.1f}")
            if self.unit is PressureUnit.KPA
            else Numeric.from_value(f"{mmhg:g}")
        )
        return encode_intermediate_cuff_pressure(IntermediateCuffPressure(value, unit=self.unit))

    async def on_connect(self) -> None:
        self._connected_at = asyncio.get_running_loop().time()

    def ready_to_send(self) -> bool:
        return True

    async def on_subscribe(self, uuid: str) -> None:
        if uuid != uuids.uuid_str(uuids.BLOOD_PRESSURE_MEASUREMENT):
            return
        if asyncio.get_running_loop().time() - self._connected_at < self.settle_s:
            _LOGGER.debug("%s: subscribed before settling; staying silent", self.name)
            return
        if self.ready_to_send():
            self.spawn(self.send_memory(), "send-memory")

    async def send_memory(self) -> None:
        icp = uuids.uuid_str(uuids.INTERMEDIATE_CUFF_PRESSURE)
        for mmhg in self.cuff_pressures:
            self.notify(icp, self.encode_cuff(mmhg))
            await asyncio.sleep(self.send_interval_s)
        bpm = uuids.uuid_str(uuids.BLOOD_PRESSURE_MEASUREMENT)
        if not self.unsent_only:
            self.sent.clear()
        sent = 0
        for index, record in enumerate(self.records):
            if index in self.sent:
                continue
            if self._drops_now(sent):
                self.drop_link()
                return
            sent += 1
            if not await self.indicate(bpm, self.encode_record(record)):
                return
            self.sent.add(index)
            await asyncio.sleep(self.send_interval_s)
        if self.delete_after_send:
            self.records = [r for i, r in enumerate(self.records) if i not in self.sent]
            self.sent.clear()
        await asyncio.sleep(self.disconnect_after_s)
        self.drop_link()


class BeurerBpMonitor(BpMonitor):
    """Beurer BM85-like: big-endian pulse/status, a user byte without flag bit 3, reserved
    flag bit 6 set (flags 0x56), and silence unless the central waits ~100 ms before
    subscribing."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("address", "A4:C1:38:85:00:01")
        kwargs.setdefault("name", "BM85")
        kwargs.setdefault("manufacturer", "Beurer")
        kwargs.setdefault("model", "BM85")
        kwargs.setdefault("serial", "BM85-0001")
        kwargs.setdefault("settle_s", 0.08)
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def encode_record(self, record: BpRecord) -> bytes:
        m = bp_measurement(record, self.unit)
        beurer = BloodPressureMeasurement(
            systolic=m.systolic,
            diastolic=m.diastolic,
            mean_arterial_pressure=m.mean_arterial_pressure,
            unit=m.unit,
            time_stamp=m.time_stamp,
            pulse_rate=m.pulse_rate,
            user_id=record.user_id if record.user_id is not None else 1,
            status=record.status if record.status is not None else 0,
            reserved_flags=0x40,
        )
        return encode_bp_measurement_beurer(beurer)


class AndUa651(BpMonitor):
    """A&D UA-651BLE: bond required ("Pr" mode), a vendor "send all" command on
    233bf001, a writable Date Time 0x2A08 in the BP service, unsent records only, and a
    disconnect after sending. It sends nothing until its clock was written in the session."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("address", "5C:31:3E:65:10:01")
        kwargs.setdefault("name", "A&D_UA-651_0A1B2C")
        kwargs.setdefault("manufacturer", "A&D Medical")
        kwargs.setdefault("model", "UA-651BLE")
        kwargs.setdefault("serial", "5140100123")
        kwargs.setdefault("requires_bond", True)
        kwargs.setdefault("unsent_only", True)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock_written = False
        self.send_all_requested = False
        bp_service = self.services[0]

        async def write_clock(data: bytes, response: bool) -> None:
            await self.write_clock(data, response)
            self.clock_written = True

        async def write_command(data: bytes, response: bool) -> None:
            if data == b"\x02\x00\xe1":
                self.send_all_requested = True
                self.sent.clear()

        bp_service.characteristics.append(
            Characteristic(
                f"{uuids.DATE_TIME:04x}",
                ("read", "write"),
                on_read=self.read_clock,
                on_write=write_clock,
                secure=True,
            )
        )
        self.add_service(
            Service(
                uuids.AND_CUSTOM_SERVICE,
                [
                    Characteristic(
                        uuids.AND_CUSTOM_CHARACTERISTIC,
                        ("write", "indicate"),
                        on_write=write_command,
                        secure=True,
                    )
                ],
            )
        )

    async def on_connect(self) -> None:
        await super().on_connect()
        self.clock_written = False

    def ready_to_send(self) -> bool:
        return self.clock_written


def sample_bp_records(now_local: datetime, count: int = 3) -> list[BpRecord]:
    """A few plausible stored results, oldest first, ending a minute before `now_local`."""
    base = [
        (128.0, 82.0, 71.0, 0),
        (142.0, 91.0, 77.0, 0x0004),
        (118.0, 76.0, 64.0, 0x0001),
        (165.0, 101.0, 88.0, 0),
        (121.0, 79.0, 70.0, 0),
    ]
    out: list[BpRecord] = []
    for i in range(count):
        sys_, dia, pulse, status = base[i % len(base)]
        taken = (now_local - timedelta(minutes=1 + 30 * (count - 1 - i))).replace(microsecond=0)
        out.append(BpRecord(sys_, dia, pulse, taken, status=status))
    return out



# --------------------------------------------------------------------------------------------
# Glucose
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredGlucose:
    """One record in a meter's memory: the 0x2A18 value and its optional 0x2A34 context."""

    measurement: GlucoseMeasurement
    context: GlucoseContext | None = None

    @property
    def sequence(self) -> int:
        return self.measurement.sequence_number


def glucose_record(
    sequence: int,
    taken_at: datetime,
    mgdl: float | None,
    *,
    meal: int | None = None,
    control_solution: bool = False,
    hi: bool = False,
    lo: bool = False,
    mmol: bool = False,
    time_offset_minutes: int | None = 0,
    sample_type: int = 1,  # capillary whole blood
    sample_location: int = 1,  # finger
    base_time: BleDateTime | None = None,
) -> StoredGlucose:
    """A record as a standard meter stores it. HI/LO carry +/-INF and the status bit."""
    status: int | None = None
    if hi or lo:
        concentration = Numeric.of_special(
            Special.POSITIVE_INFINITY if hi else Special.NEGATIVE_INFINITY
        )
        status = STATUS_HIGH if hi else STATUS_LOW
    elif mgdl is None:
        concentration = Numeric.of_special(Special.NAN)
    elif mmol:
        # mol/L on air: 5.5 mmol/L = 55e-4 mol/L
        concentration = Numeric.from_value(f"{mgdl_to_mmoll(mgdl) / 1000:.4f}")
    else:
        # kg/L on air: 98 mg/dL = 98e-5 kg/L
        concentration = Numeric(round(mgdl), -5)
    if control_solution:
        sample_type, sample_location = SAMPLE_TYPE_CONTROL_SOLUTION, 4
    offset = time_offset_minutes or 0
    stamp = base_time or BleDateTime.from_datetime(taken_at - timedelta(minutes=offset))
    measurement = GlucoseMeasurement(
        sequence_number=sequence,
        base_time=stamp,
        time_offset_minutes=time_offset_minutes,
        concentration=concentration,
        unit=GlucoseUnit.MOL_PER_L if mmol else GlucoseUnit.KG_PER_L,
        sample_type=sample_type,
        sample_location=sample_location,
        sensor_status=status,
        context_follows=meal is not None,
    )
    context = GlucoseContext(sequence, meal=meal) if meal is not None else None
    return StoredGlucose(measurement, context)


def sample_glucose_records(
    now_local: datetime, count: int = 5, *, first_sequence: int = 1
) -> list[StoredGlucose]:
    """A realistic memory, oldest first: contexts on some records, one control-solution test,
    one HI and one LO reading when `count` allows."""
    values = [96.0, 142.0, 188.0, 251.0, 73.0, 110.0, 305.0, 64.0]
    meals = [3, 2, None, 1, 4, None, 2, 5]
    out: list[StoredGlucose] = []
    for i in range(count):
        seq = first_sequence + i
        taken = (now_local - timedelta(hours=6 * (count - i))).replace(microsecond=0)
        kind = i % 10
        if kind == 4 and count > 5:
            out.append(glucose_record(seq, taken, 120.0, control_solution=True))
        elif kind == 6:
            out.append(glucose_record(seq, taken, None, hi=True))
        elif kind == 8:
            out.append(glucose_record(seq, taken, None, lo=True))
        else:
            out.append(glucose_record(seq, taken, values[i % len(values)], meal=meals[i % 8]))
    return out


@dataclass(slots=True)
class GlucoseFaults:
    """Misbehaviour seen in the field (PROTOCOLS.md §3.7), all off by default."""

    disconnect_after_records: int | None = None  # link drops mid-RACP after N records
    response_delay_s: float = 0.0  # slow meter: every record and answer waits this long
    duplicate_records: bool = False  # each record notified twice
    garbage_before_sequence: int | None = None  # a malformed 0x2A18 before this record
    busy_after_op_s: float = 0.0  # keeps refusing new RACP ops (ATT 0x80) this long after one
    ignore_sequence_filter: bool = False  # ">= N" answered with every record (Fora)
    disconnect_sessions: int | None = None  # drop only in the first N connections (None: all)


class GlucoseMeter(GattPeripheral):
    """A standard Glucose Service meter with CTS and DIS, bonding required for GLS."""

    def __init__(
        self,
        *,
        address: str = "C8:FD:19:20:00:01",
        name: str = "Contour7830H5001234",
        records: Sequence[StoredGlucose] = (),
        clock: DeviceClock | None = None,
        manufacturer: str | None = "Ascensia Diabetes Care",
        model: str | None = "Contour Next One",
        serial: str | None = "7830H5001234",
        firmware: str | None = "2.1",
        requires_bond: bool = True,
        passkey: str | None = None,
        has_cts: bool = True,
        has_context: bool = True,
        date_time_in_glucose_service: bool = False,
        feature: int = 0x0460,
        faults: GlucoseFaults | None = None,
        record_interval_s: float = 0.0,
        battery_pct: int | None = None,
    ) -> None:
        self.records = list(records)
        self.clock = clock or DeviceClock()
        self.faults = faults or GlucoseFaults()
        self.record_interval_s = record_interval_s
        self.racp_requests: list[RacpRequest] = []
        self.refused_ops = 0
        self._busy = False
        self._busy_until = 0.0
        glucose_chars = [
            Characteristic(
                f"{uuids.GLUCOSE_MEASUREMENT:04x}", ("notify",), secure=requires_bond
            ),
            Characteristic(
                f"{uuids.GLUCOSE_FEATURE:04x}",
                ("read",),
                encode_glucose_feature(GlucoseFeature(feature)),
            ),
            Characteristic(
                f"{uuids.RECORD_ACCESS_CONTROL_POINT:04x}",
                ("write", "indicate"),
                on_write=self._racp_write,
                secure=requires_bond,
            ),
        ]
        if has_context:
            glucose_chars.insert(
                1,
                Characteristic(
                    f"{uuids.GLUCOSE_MEASUREMENT_CONTEXT:04x}", ("notify",), secure=requires_bond
                ),
            )
        if date_time_in_glucose_service:
            glucose_chars.append(
                Characteristic(
                    f"{uuids.DATE_TIME:04x}", ("read", "write"),
                    on_read=self._read_date_time, on_write=self._write_date_time,
                )
            )
        services = [
            Service(f"{uuids.GLUCOSE_SERVICE:04x}", glucose_chars),
            dis_service(manufacturer=manufacturer, model=model, serial=serial, firmware=firmware),
            *([battery_service(battery_pct)] if battery_pct is not None else []),
        ]
        if has_cts:
            services.append(
                Service(
                    f"{uuids.CURRENT_TIME_SERVICE:04x}",
                    [
                        Characteristic(
                            f"{uuids.CURRENT_TIME:04x}",
                            ("read", "notify", "write"),
                            on_read=self._read_cts,
                            on_write=self._write_cts,
                        )
                    ],
                )
            )
        super().__init__(
            address=address,
            name=name,
            services=services,
            advertised_services=[f"{uuids.GLUCOSE_SERVICE:04x}"],
            requires_bond=requires_bond,
            passkey=passkey,
        )

    # -- clocks ------------------------------------------------------------------------------

    async def _read_cts(self) -> bytes:
        return encode_current_time(CurrentTime.from_datetime(self.clock.local_now()))

    async def _write_cts(self, data: bytes, response: bool) -> None:
        local = decode_current_time(data).date_time.to_datetime()
        if local is None:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.VALUE_NOT_ALLOWED)
        self.clock.set_local(local)

    async def _read_date_time(self) -> bytes:
        return encode_date_time(BleDateTime.from_datetime(self.clock.local_now()))

    async def _write_date_time(self, data: bytes, response: bool) -> None:
        local = decode_date_time(data).to_datetime()
        if local is None:
            raise BleakGATTProtocolError(BleakGATTProtocolErrorCode.VALUE_NOT_ALLOWED)
        self.clock.set_local(local)

    # -- RACP --------------------------------------------------------------------------------

    def _refuse(self, code: int) -> BleakGATTProtocolError:
        self.refused_ops += 1
        return BleakGATTProtocolError(code)

    async def _racp_write(self, data: bytes, response: bool) -> None:
        racp = uuids.uuid_str(uuids.RECORD_ACCESS_CONTROL_POINT)
        if not self.subscribed(racp):
            raise self._refuse(ATT_CCCD_IMPROPERLY_CONFIGURED)
        try:
            request = decode_racp_request(data)
        except DecodeError:
            opcode = data[0] if data else 0
            self.spawn(
                self._respond(opcode, ResponseCode.INVALID_OPERAND), "racp-invalid"
            )
            return
        now = asyncio.get_running_loop().time()
        busy = self._busy or now < self._busy_until
        if busy and request.opcode != Opcode.ABORT_OPERATION:
            raise self._refuse(ATT_PROCEDURE_ALREADY_IN_PROGRESS)
        if request.opcode == Opcode.REPORT_STORED_RECORDS and not self.subscribed(
            uuids.uuid_str(uuids.GLUCOSE_MEASUREMENT)
        ):
            raise self._refuse(ATT_CCCD_IMPROPERLY_CONFIGURED)
        self.racp_requests.append(request)
        if request.opcode == Opcode.ABORT_OPERATION:
            self.cancel_tasks()
            self._busy = False
            self.spawn(self._respond(request.opcode, ResponseCode.SUCCESS), "racp-abort")
            return
        self._busy = True
        self.spawn(self._run(request), "racp")

    def select(self, request: RacpRequest) -> list[StoredGlucose] | None:
        """Records a request selects (None: operator/filter not supported)."""
        ordered = sorted(self.records, key=lambda r: r.sequence)
        if request.operator == Operator.FIRST_RECORD:
            return ordered[:1]
        if request.operator == Operator.LAST_RECORD:
            return ordered[-1:]
        bounds = request.sequence_range
        if bounds is None:
            return None
        low, high = bounds
        if self.faults.ignore_sequence_filter:
            low = high = None
        return [
            r
            for r in ordered
            if (low is None or r.sequence >= low) and (high is None or r.sequence <= high)
        ]

    async def _respond(self, opcode: int, code: int) -> None:
        racp = uuids.uuid_str(uuids.RECORD_ACCESS_CONTROL_POINT)
        await self.indicate(racp, encode_racp_response(ResponseCodeResponse(opcode, code)))

    async def _run(self, request: RacpRequest) -> None:
        racp = uuids.uuid_str(uuids.RECORD_ACCESS_CONTROL_POINT)
        try:
            await asyncio.sleep(self.faults.response_delay_s)
            if request.opcode not in (
                Opcode.REPORT_STORED_RECORDS,
                Opcode.REPORT_NUMBER_OF_STORED_RECORDS,
                Opcode.DELETE_STORED_RECORDS,
            ):
                await self._respond(request.opcode, ResponseCode.OP_CODE_NOT_SUPPORTED)
                return
            selected = self.select(request)
            if selected is None:
                await self._respond(request.opcode, ResponseCode.OPERATOR_NOT_SUPPORTED)
                return
            if request.opcode == Opcode.REPORT_NUMBER_OF_STORED_RECORDS:
                await self.indicate(
                    racp, encode_racp_response(NumberOfRecordsResponse(len(selected)))
                )
                return
            if request.opcode == Opcode.DELETE_STORED_RECORDS:
                doomed = {r.sequence for r in selected}
                self.records = [r for r in self.records if r.sequence not in doomed]
                await self._respond(request.opcode, ResponseCode.SUCCESS)
                return
            if not selected:
                await self._respond(request.opcode, ResponseCode.NO_RECORDS_FOUND)
                return
            await self._send_records(selected)
            await self._respond(request.opcode, ResponseCode.SUCCESS)
        finally:
            self._busy = False
            self._busy_until = asyncio.get_running_loop().time() + self.faults.busy_after_op_s

    async def _send_records(self, selected: Sequence[StoredGlucose]) -> None:
        gm = uuids.uuid_str(uuids.GLUCOSE_MEASUREMENT)
        ctx = uuids.uuid_str(uuids.GLUCOSE_MEASUREMENT_CONTEXT)
        for sent, record in enumerate(selected):
            if (
                self.faults.disconnect_after_records is not None
                and sent >= self.faults.disconnect_after_records
                and (
                    self.faults.disconnect_sessions is None
                    or self.connections <= self.faults.disconnect_sessions
                )
            ):
                self.drop_link()
                return
            if record.sequence == self.faults.garbage_before_sequence:
                self.notify(gm, b"\x1b\x07")  # flags promise more than two bytes
            copies = 2 if self.faults.duplicate_records else 1
            for _ in range(copies):
                self.notify(gm, encode_glucose_measurement(record.measurement))
                if record.context is not None and record.measurement.context_follows:
                    self.notify(ctx, encode_glucose_context(record.context))
            await asyncio.sleep(self.faults.response_delay_s or self.record_interval_s)


class CareSensMeter(GlucoseMeter):
    """i-SENS CareSens N Premier: no CTS (a vendor clock service FFF0/FFF1 instead), meal 6
    in the context meaning "ketone", and the month-13 Base Time firmware bug."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("address", "00:1B:35:11:00:01")
        kwargs.setdefault("name", "CareSens N Premier")
        kwargs.setdefault("manufacturer", "i-SENS")
        kwargs.setdefault("model", "CareSens N Premier")
        kwargs.setdefault("serial", "ISN00012345")
        kwargs.setdefault("has_cts", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.time_writes: list[bytes] = []

        async def write_vendor_time(data: bytes, response: bool) -> None:
            self.time_writes.append(data)
            if data[:4] != ISENS_TIME_HEADER or len(data) < 11:
                return
            local = decode_date_time(data, 4).to_datetime()
            if local is not None:
                self.clock.set_local(local)
                return
            # An all-zero Date Time asks for the clock: answer by notification.
            now = BleDateTime.from_datetime(self.clock.local_now())
            self.spawn(self._notify_time(isens_set_time_command(now)), "vendor-time")

        self.add_service(
            Service(
                f"{uuids.ISENS_TIME_SERVICE_V14:04x}",
                [
                    Characteristic(
                        f"{uuids.ISENS_TIME_CHARACTERISTIC_V14:04x}",
                        ("write", "notify"),
                        on_write=write_vendor_time,
                    )
                ],
            )
        )


    async def _notify_time(self, payload: bytes) -> None:
        self.notify(f"{uuids.ISENS_TIME_CHARACTERISTIC_V14:04x}", payload)


def caresens_records(now_local: datetime) -> list[StoredGlucose]:
    """A CareSens memory: a glucose value, a ketone record (meal 6), and a month-13 record."""
    t1 = (now_local - timedelta(hours=5)).replace(microsecond=0)
    t2 = (now_local - timedelta(hours=3)).replace(microsecond=0)
    bad = BleDateTime(now_local.year, 13, 2, 7, 30, 0)
    return [
        glucose_record(1, t1, 131.0, meal=1),
        glucose_record(2, t2, 15.0, meal=6),  # ketone: not a glucose value
        glucose_record(3, t2, 104.0, base_time=bad, time_offset_minutes=None),
    ]


class ForaMeter(GlucoseMeter):
    """ForaCare TN'G Voice / TaiDoc: no manufacturer string, model "Model Number", broken
    delta upload (">= N" returns everything), no context, and a bogus HI record dated 2037
    appended when the memory is full."""

    def __init__(self, *, memory_full: bool = False, **kwargs: object) -> None:
        kwargs.setdefault("address", "C0:26:DA:01:00:01")
        kwargs.setdefault("name", "TNG VOICE")
        kwargs.setdefault("manufacturer", None)
        kwargs.setdefault("model", "Model Number")
        kwargs.setdefault("serial", "TD4277-0001")
        kwargs.setdefault("has_context", False)
        kwargs.setdefault("faults", GlucoseFaults(ignore_sequence_filter=True))
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if memory_full:
            last = max((r.sequence for r in self.records), default=0)
            self.records.append(
                glucose_record(last + 1, datetime(2037, 1, 1, 0, 0), None, hi=True)  # noqa: DTZ001
            )


class AccuChekMeter(GlucoseMeter):
    """Roche Accu-Chek Guide: name "meter+NNNNNNNN", bond by passkey (PIN on the meter), every
    GLS characteristic refuses subscriptions before the bond exists."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("address", "60:77:71:64:00:01")
        kwargs.setdefault("name", "meter+06412345")
        kwargs.setdefault("manufacturer", "Roche")
        kwargs.setdefault("model", "Accu-Chek Guide")
        kwargs.setdefault("serial", "92412345")
        kwargs.setdefault("passkey", "123456")
        super().__init__(**kwargs)  # type: ignore[arg-type]
