"""A Beurer BM58-family blood-pressure monitor on a pty, using `drivers.serial.beurer_bm58`.

Answers AA with 55, A4 with its id string, A2 with the slot count and ``A3 i`` with record i
(1 = newest) or A9 for an empty slot. `empty_slots` marks slots that answer A9 although they
are counted. The BM58 keeps 60 records per user; `make_simulator(records=60)` is a full memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from core.clock import DEFAULT_SITE_TZ, site_zone, utc_now
from drivers.serial import beurer_bm58 as bm58
from drivers.serial.device_time import utc_to_local
from simulators.serial.pty import PtyFaults, PtyMeter

FULL_MEMORY = 60


class BeurerBm58Meter(PtyMeter):
    def __init__(
        self,
        records: Sequence[bm58.BpRecord],
        *,
        device_id: str = "Andon KD-001 BM58",
        empty_slots: frozenset[int] = frozenset(),
        faults: PtyFaults | None = None,
    ) -> None:
        super().__init__(faults=faults, name="beurer-bm58")
        self.records = list(records)  # slot 1 first (newest)
        self.device_id = device_id
        self.empty_slots = empty_slots
        self._pending_record = False

    def reset_link_state(self) -> None:
        self._pending_record = False

    def handle(self, data: bytes) -> bytes | None:
        reply = b""
        for byte in data:
            if self._pending_record:
                self._pending_record = False
                reply += self._record(byte)
            elif byte == bm58.WAKE:
                reply += bytes([bm58.WAKE_ACK])
            elif byte == bm58.DEVICE_ID:
                reply += bm58.encode_device_id(self.device_id)
            elif byte == bm58.COUNT:
                reply += bytes([len(self.records)])
            elif byte == bm58.RECORD:
                self._pending_record = True
        return reply or None

    def _record(self, index: int) -> bytes:
        if index in self.empty_slots or not 1 <= index <= len(self.records):
            return bm58.encode_record(None)
        return bm58.encode_record(self.records[index - 1])

    def corrupt(self, reply: bytes) -> bytes:
        """No checksum to break: damage the first byte, the only thing a host can check."""
        if not reply:
            return reply
        return bytes([reply[0] ^ 0x01]) + reply[1:]


def sample_records(count: int, *, newest: datetime) -> list[bm58.BpRecord]:
    """`count` records four hours apart, newest first, starting at `newest` (naive)."""
    return [
        bm58.BpRecord(
            systolic=105 + (i * 11) % 80,
            diastolic=65 + (i * 5) % 30,
            pulse=55 + (i * 3) % 50,
            taken_at=(newest - timedelta(hours=4 * i)).replace(second=0, microsecond=0),
        )
        for i in range(count)
    ]


def make_simulator(
    *,
    records: int,
    faults: PtyFaults | None = None,
    clock: Callable[[], datetime] | None = None,
    drift_s: float = 0.0,
) -> BeurerBm58Meter:
    now = clock or utc_now
    newest = utc_to_local(now() + timedelta(seconds=drift_s), site_zone(DEFAULT_SITE_TZ))
    return BeurerBm58Meter(
        sample_records(records, newest=newest - timedelta(minutes=2)), faults=faults
    )
