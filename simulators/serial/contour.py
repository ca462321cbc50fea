"""A Bayer/Ascensia Contour meter on a pty, speaking through `drivers.serial.astm`/`contour`.

Meter side of E1381: any EOT or ENQ from the host while idle makes the meter bid (ENQ); the
host's ACK starts the transfer; each ACK moves to the next frame, a NAK resends the same one
(six tries, then the meter gives up with EOT). After the last frame it sends EOT and is idle.

Records sent: H (serial, unit, count, the meter clock = true time + drift), P, one R per
memory entry (oldest first, sequence 1..n), L. `repeat_after_ack` makes the meter behave as if
it missed the host's ACK of those frame indexes: it sends the frame again, which the host must
acknowledge and ignore.

The frames are laid out by this module's own writer (`transfer_frames`), the way a real
Contour sends them, not by the gateway's codec: each record with its CR in a frame closed by
ETB, only the last frame of the transfer closed by ETX (frames captured from a Contour USB in
glucometerutils `test/test_bacontour.py` and Tidepool `lib/drivers/bayer/bayerContourNext.js`;
tests/serial_contour/test_real_frames.py pins this writer and the receiver to those bytes). If
the simulator borrowed the receiver's idea of framing, a shared mistake would pass every test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

from core.clock import DEFAULT_SITE_TZ, site_zone, utc_now
from core.units import mgdl_to_mmoll
from drivers.serial import astm, contour
from drivers.serial.device_time import utc_to_local
from simulators.serial.pty import PtyFaults, PtyMeter

_MAX_TRIES = 6

# E1381 link bytes, spelled out here rather than taken from the receiver (see the docstring).
_STX, _ETX, _ETB, _CR, _LF = 0x02, 0x03, 0x17, 0x0D, 0x0A
_MAX_TEXT = 240  # E1381: at most 247 bytes per frame, 7 of them framing


def transfer_frames(records: Sequence[bytes], first_number: int = 1) -> list[bytes]:
    """One transfer as the meter frames it: `records` are record texts without their CR.

    A record that does not fit one frame continues in the next (ETB) frame; its CR sits in the
    frame where it ends. Frame numbers count on from `first_number` modulo 8.
    """
    texts: list[bytes] = []
    for record in records:
        line = record + bytes([_CR])
        texts += [line[i : i + _MAX_TEXT] for i in range(0, len(line), _MAX_TEXT)]
    frames: list[bytes] = []
    for i, text in enumerate(texts):
        end = _ETX if i == len(texts) - 1 else _ETB
        body = bytes([0x30 + (first_number + i) % 8]) + text + bytes([end])
        check = f"{sum(body) % 256:02X}".encode("ascii")
        frames.append(bytes([_STX]) + body + check + bytes([_CR, _LF]))
    return frames


class ContourMeter(PtyMeter):
    def __init__(
        self,
        results: Sequence[contour.ResultRecord],
        *,
        serial: str = "7150-1234567",
        product_code: str = "Contour",
        unit: str = contour.MGDL,
        clock: Callable[[], datetime] | None = None,
        drift_s: float = 0.0,
        site_tz: str = DEFAULT_SITE_TZ,
        repeat_after_ack: frozenset[int] = frozenset(),
        faults: PtyFaults | None = None,
        identity: contour.HeaderRecord | None = None,
    ) -> None:
        super().__init__(faults=faults, name="contour")
        self.results = list(results)
        self.serial = serial
        self.product_code = product_code
        self.unit = unit
        self._clock = clock or utc_now
        self.drift_s = drift_s
        self._zone = site_zone(site_tz)
        self.repeat_after_ack = repeat_after_ack
        # A header as a particular real meter sends it (password, versions, settings, count):
        # only its clock is replaced by this meter's clock.
        self.identity = identity
        self.transfers = 0  # completed transfers
        self._frames: list[bytes] = []
        self._next = 0  # index of the frame awaiting ACK
        self._tries = 0
        self._bidding = False
        self._sent_total = 0
        self._repeated: set[int] = set()

    def meter_time(self) -> datetime:
        return utc_to_local(self._clock() + timedelta(seconds=self.drift_s), self._zone)

    def header(self) -> contour.HeaderRecord:
        meter_time = self.meter_time().replace(second=0, microsecond=0)
        if self.identity is not None:
            return replace(self.identity, meter_time=meter_time)
        return contour.HeaderRecord(
            delimiters=contour.STANDARD,
            password="",
            product_code=self.product_code,
            versions=("01.23", "04.56", "07.08.09"),
            serial=self.serial,
            sku="7390",
            settings=MappingProxyType(
                {"A": "1", "C": "11", "G": "1", "U": "0" if self.unit == contour.MGDL else "1"}
            ),
            record_count=len(self.results),
            spec_version="1",
            meter_time=meter_time,
            processing_id="P",
        )

    def records(self) -> list[contour.Record]:
        """The records of one transfer, in the order the meter sends them."""
        return [
            self.header(),
            contour.PatientRecord(1),
            *self.results,
            contour.TerminatorRecord(1, "N"),
        ]

    def _build_frames(self) -> list[bytes]:
        return transfer_frames([contour.encode_record(r) for r in self.records()])

    def reset_link_state(self) -> None:
        self._frames = []
        self._next = 0
        self._tries = 0
        self._bidding = False
        self._repeated = set()

    def handle(self, data: bytes) -> bytes | None:
        reply = b""
        for byte in data:
            out = self._on_byte(byte)
            if out:
                reply += out
        return reply or None

    def _on_byte(self, byte: int) -> bytes | None:
        if not self._frames and not self._bidding:
            if byte in (astm.EOT, astm.ENQ):
                self._bidding = True
                return bytes([astm.ENQ])
            return None
        if self._bidding:
            if byte == astm.ACK:
                self._bidding = False
                self._frames = self._build_frames()
                self._next, self._tries = 0, 1
                return self._frames[0]
            if byte in (astm.EOT, astm.ENQ, astm.NAK):
                return bytes([astm.ENQ])
            return None
        if byte == astm.ACK:
            if self._next in self.repeat_after_ack and self._next not in self._repeated:
                self._repeated.add(self._next)
                return self._frames[self._next]
            self._next += 1
            self._tries = 1
            if self._next >= len(self._frames):
                self.transfers += 1
                self.reset_link_state()
                return bytes([astm.EOT])
            return self._frames[self._next]
        if byte == astm.NAK:
            self._tries += 1
            if self._tries > _MAX_TRIES:
                self.reset_link_state()
                return bytes([astm.EOT])
            return self._frames[self._next]
        if byte == astm.EOT:
            # The host gave up on this transfer; bid again.
            self.reset_link_state()
            self._bidding = True
            return bytes([astm.ENQ])
        return None

    def corrupt(self, reply: bytes) -> bytes:
        """Damage the checksum characters of a frame; bare control bytes stay as they are."""
        if len(reply) < 7 or reply[0] != astm.STX:
            return reply
        wrong = b"00" if reply[-4:-2] != b"00" else b"01"
        return reply[:-4] + wrong + reply[-2:]


def sample_results(
    count: int, *, newest: datetime, unit: str = contour.MGDL
) -> list[contour.ResultRecord]:
    """`count` results one hour apart, oldest first, ending at `newest` (naive meter time)."""
    markers_cycle: tuple[tuple[str, ...], ...] = ((), ("B",), ("A",), ("C",), (">",), ("<",))
    out: list[contour.ResultRecord] = []
    for i in range(count):
        taken = (newest - timedelta(hours=count - 1 - i)).replace(second=0, microsecond=0)
        markers = markers_cycle[i % len(markers_cycle)]
        mgdl = 600 if ">" in markers else 10 if "<" in markers else 80 + (i * 37) % 200
        value = str(mgdl) if unit == contour.MGDL else f"{mgdl_to_mmoll(mgdl):.1f}"
        out.append(
            contour.ResultRecord(
                sequence=i + 1,
                test="Glucose",
                value=value,
                unit=unit,
                method="P",
                markers=markers,
                taken_at=taken,
            )
        )
    return out


def make_simulator(
    *,
    records: int,
    faults: PtyFaults | None = None,
    clock: Callable[[], datetime] | None = None,
    drift_s: float = 0.0,
) -> ContourMeter:
    now = clock or utc_now
    zone = site_zone(DEFAULT_SITE_TZ)
    newest = utc_to_local(now() + timedelta(seconds=drift_s), zone) - timedelta(minutes=5)
    return ContourMeter(
        sample_results(records, newest=newest), clock=clock, drift_s=drift_s, faults=faults
    )
