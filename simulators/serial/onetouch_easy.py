"""A OneTouch Ultra Easy / Ultra Mini on a pty, speaking the driver's own frame codec.

Link behaviour: a DISC frame resets both sequence bits and is answered with DISC+ACK; a data
frame with the expected sequence bit is a new request (ACK, then the answer frame); one with the
previous bit is a retransmission (ACK, then the previous answer again); an ACK frame completes
the last answer. Frames with a bad CRC are ignored, as a meter would. Memory is newest-first
(record 0 = newest), 500 records, the oldest falling out when full.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from core.clock import utc_now
from drivers.errors import DecodeError
from drivers.serial import onetouch_easy as easy
from simulators.serial.meter_clock import DriftingClock
from simulators.serial.pty import PtyFaults, PtyMeter

DEFAULT_SERIAL = "JDG1234EZ"


class UltraEasyMeter(PtyMeter):
    def __init__(
        self,
        *,
        records: Sequence[easy.Record] = (),
        serial: str = DEFAULT_SERIAL,
        version: str = "P02.00.00 08/07/08",
        unit: str = easy.UNIT_MGDL,
        clock: DriftingClock | None = None,
        capacity: int = easy.MAX_RECORDS,
        count_with_prefix: bool = False,
        refuse_records: frozenset[int] = frozenset(),
        faults: PtyFaults | None = None,
        name: str = "ultraeasy",
    ) -> None:
        super().__init__(faults=faults, name=name)
        self.serial = serial
        self.version = version
        self.unit = unit
        self.clock = clock or DriftingClock()
        self.capacity = capacity
        self.count_with_prefix = count_with_prefix
        self.refuse_records = refuse_records  # record indexes answered with a refusal
        self.memory: list[easy.Record] = list(records)[:capacity]  # newest first
        self.requests: list[easy.Request] = []
        self.bad_frames = 0
        self._rx = bytearray()
        self._send_bit = False
        self._expect_bit = False
        self._last_answer: bytes | None = None
        self._awaiting_ack = False

    def add_record(self, record: easy.Record) -> None:
        self.memory.insert(0, record)
        del self.memory[self.capacity :]

    def reset_link_state(self) -> None:
        self._rx.clear()
        self._send_bit = self._expect_bit = self._awaiting_ack = False
        self._last_answer = None

    def handle(self, data: bytes) -> bytes | None:
        self._rx.extend(data)
        reply = bytearray()
        while True:
            scan = easy.find_frame(bytes(self._rx))
            del self._rx[: scan.used]
            if scan.error is not None:
                self.bad_frames += 1
            if scan.frame is None:
                break
            reply.extend(self._on_frame(scan.frame))
        return bytes(reply) or None

    def _on_frame(self, frame: easy.Frame) -> bytes:
        link = frame.link
        if link.disconnect:
            self.reset_link_state()
            return easy.encode_frame(easy.Frame(easy.LinkControl(ack=True, disconnect=True)))
        if not frame.message:
            if link.ack and self._awaiting_ack:
                self._send_bit = not self._send_bit
                self._awaiting_ack = False
            return b""
        if link.sequence != self._expect_bit and self._last_answer is not None:
            return self._ack() + self._data(self._last_answer)  # a retransmitted request
        if self._awaiting_ack:
            # The host moved on without ACKing our answer: take the new request as the ACK.
            self._send_bit = not self._send_bit
        self._expect_bit = not self._expect_bit
        self._last_answer = self._answer(frame.message)
        self._awaiting_ack = True
        return self._ack() + self._data(self._last_answer)

    def _ack(self) -> bytes:
        control = easy.LinkControl(sequence=self._send_bit, expect=self._expect_bit, ack=True)
        return easy.encode_frame(easy.Frame(control))

    def _data(self, message: bytes) -> bytes:
        control = easy.LinkControl(sequence=self._send_bit, expect=self._expect_bit)
        return easy.encode_frame(easy.Frame(control, message))

    def _answer(self, message: bytes) -> bytes:
        try:
            request = easy.decode_request(message)
        except DecodeError:
            return easy.encode_refusal()
        self.requests.append(request)
        match request:
            case easy.ReadVersion():
                return easy.encode_version(self.version)
            case easy.ReadSerial():
                return easy.encode_serial(self.serial)
            case easy.ReadClock():
                return easy.encode_clock(self.clock.local_now())
            case easy.SetClock(time=wanted):
                self.clock.set_local(wanted)
                return easy.encode_clock(self.clock.local_now())
            case easy.ReadUnit():
                return easy.encode_unit(self.unit)
            case easy.ReadRecord(index=easy.COUNT_RECORD):
                return easy.encode_count(len(self.memory), with_prefix=self.count_with_prefix)
            case easy.ReadRecord(index=index):
                if index >= len(self.memory) or index in self.refuse_records:
                    return easy.encode_refusal()
                return easy.encode_record(self.memory[index])
            case easy.Erase():
                self.memory.clear()
                return easy.encode_success()


def sample_records(count: int, newest: datetime) -> list[easy.Record]:
    """`count` plausible tests, newest first, four hours apart, including LO and HI."""
    records = []
    for i in range(count):
        moment = (newest - timedelta(hours=4 * i)).replace(microsecond=0)
        value = 65 + (i * 41) % 280
        if i % 40 == 9:
            value = 10
        if i % 40 == 17:
            value = 700
        records.append(easy.Record(moment, value))
    return records


def make_simulator(
    *,
    records: int,
    faults: PtyFaults | None = None,
    clock: Callable[[], datetime] | None = None,
    drift_s: float = 0.0,
) -> UltraEasyMeter:
    meter_clock = DriftingClock(clock or utc_now, drift_s=drift_s)
    newest = meter_clock.local_now() - timedelta(minutes=5)
    return UltraEasyMeter(records=sample_records(records, newest), clock=meter_clock,
                          faults=faults)
