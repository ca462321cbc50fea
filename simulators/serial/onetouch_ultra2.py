"""A OneTouch Ultra 2 (or original Ultra) on a pty, answering through the driver's own codec.

Memory is newest-first like the meter's; `add_record` pushes a new test and, when the memory
is full (500 tests), the oldest falls out. `not_ready=True` makes it answer every command with a
single NUL, as a meter does that is switched on or not in data mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from core.clock import utc_now
from drivers.serial import onetouch_ultra2 as ultra2
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.pty import PtyFaults, PtyMeter

CAPACITY = 500
DEFAULT_SERIAL = "ZW123456Y"  # nine characters; Ultra 2 serials end in Y


class Ultra2Meter(PtyMeter):
    def __init__(
        self,
        *,
        records: Sequence[ultra2.Record] = (),
        serial: str = DEFAULT_SERIAL,
        version: str = "P02.00.00 30/08/06",
        unit: str = ultra2.UNIT_MGDL,
        clock: DriftingClock | None = None,
        capacity: int = CAPACITY,
        not_ready: bool = False,
        faults: PtyFaults | None = None,
        name: str = "ultra2",
    ) -> None:
        super().__init__(faults=faults, name=name)
        self.serial = serial
        self.version = version
        self.unit = unit
        self.clock = clock or DriftingClock()
        self.capacity = capacity
        self.not_ready = not_ready
        self.memory: list[ultra2.Record] = list(records)[:capacity]  # newest first
        self.commands: list[ultra2.Command] = []
        self._rx = bytearray()

    def add_record(self, record: ultra2.Record) -> None:
        self.memory.insert(0, record)
        del self.memory[self.capacity :]

    def reset_link_state(self) -> None:
        self._rx.clear()

    def handle(self, data: bytes) -> bytes | None:
        self._rx.extend(data)
        reply = bytearray()
        while True:
            command, used = ultra2.parse_command(bytes(self._rx))
            del self._rx[:used]
            if command is None:
                break
            self.commands.append(command)
            reply.extend(b"\x00" if self.not_ready else self._answer(command))
        return bytes(reply) or None

    def corrupt(self, reply: bytes) -> bytes:
        """Spoil the checksum of the middle line (inside a dump: records before it are fine)."""
        lines = reply.split(b"\n")
        target = max(0, (len(lines) - 1) // 2)
        line = lines[target]
        digit = line.rfind(b"\r") - 1 if b"\r" in line else len(line) - 1
        if digit < 0:
            return super().corrupt(reply)
        spoiled = b"0" if line[digit : digit + 1] != b"0" else b"1"
        lines[target] = line[:digit] + spoiled + line[digit + 1 :]
        return b"\n".join(lines)

    def _answer(self, command: ultra2.Command) -> bytes:
        if command.name == ultra2.CMD_VERSION:
            return ultra2.encode_version(self.version)
        if command.name == ultra2.CMD_SERIAL:
            return ultra2.encode_serial(self.serial)
        if command.name == ultra2.CMD_READ_CLOCK:
            now = self.clock.local_now()
            return ultra2.encode_clock(ultra2.Clock(now, ultra2.WEEKDAYS[now.weekday()]))
        if command.name == ultra2.CMD_SET_CLOCK:
            wanted = datetime.strptime(command.argument, "%m/%d/%y %H:%M:%S")  # noqa: DTZ007 - meter wall clock
            self.clock.set_local(wanted)
            now = self.clock.local_now()
            return ultra2.encode_clock(ultra2.Clock(now, ultra2.WEEKDAYS[now.weekday()], True))
        if command.name == ultra2.CMD_UNIT:
            return ultra2.encode_unit(self.unit)
        if command.name == ultra2.CMD_DUMP:
            header = ultra2.DumpHeader(len(self.memory), self.serial, self.unit)
            return ultra2.encode_dump_header(header) + b"".join(
                ultra2.encode_record(r) for r in self.memory
            )
        if command.name == ultra2.CMD_ERASE:
            self.memory.clear()
            return ultra2.encode_erased()
        return b""  # DMST? and anything else: the meter stays silent


def sample_records(count: int, newest: datetime, *, extended: bool = True) -> list[ultra2.Record]:
    """`count` plausible tests, newest first, three hours apart, with every marker in use."""
    records = []
    for i in range(count):
        moment = (newest - timedelta(hours=3 * i)).replace(second=0, microsecond=0)
        value = 70 + (i * 37) % 260
        if i % 50 == 7:
            value = 12  # LO
        if i % 50 == 13:
            value = 650  # HI
        records.append(
            ultra2.Record(
                time=moment,
                weekday=ultra2.WEEKDAYS[moment.weekday()],
                value_mgdl=value,
                control=i % 25 == 5,
                meal=(None, "preprandial", "postprandial")[i % 3] if extended else None,
                comment=(i % 12) if extended else None,
                extended=extended,
            )
        )
    return records


def make_simulator(
    *,
    records: int,
    faults: PtyFaults | None = None,
    clock: Callable[[], datetime] | None = None,
    drift_s: float = 0.0,
) -> Ultra2Meter:
    meter_clock = DriftingClock(clock or utc_now, drift_s=drift_s)
    newest = meter_clock.local_now() - timedelta(minutes=5)
    return Ultra2Meter(records=sample_records(records, newest), clock=meter_clock, faults=faults)
