"""BLE capture files (JSON Lines) and the recorder that writes them from a live link.

Format, one JSON object per line:
- line 1, the device: ``{"format": "gempita.ble-capture/1", "name": ..., "address": ...,
  "recorded_at": ISO UTC, "services": [{"uuid": "1810", "characteristics":
  [{"uuid": "2a35", "properties": ["indicate"]}]}], "dis": {"2a29": "A&D", ...}}``
- every further line, one event in link order: ``{"t": seconds since connect, "op":
  "notify"|"indicate"|"read"|"write"|"disconnect", "char": "2a35", "hex": "..."}``.
  "read" carries the value the device returned, "write" what the gateway wrote, "disconnect"
  (unsolicited, from the device) has empty char and hex.

16-bit SIG UUIDs are written short ("2a35"), vendor UUIDs in full. Captures contain device
readings: treat files from real residents as personal health data.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers.ble.link import BleLink
from drivers.ble.uuids import short_uuid
from drivers.errors import DecodeError, UsageError

_LOGGER = logging.getLogger(__name__)

CAPTURE_FORMAT = "gempita.ble-capture/1"
OPS = frozenset({"notify", "indicate", "read", "write", "disconnect"})
SERVER_OPS = frozenset({"notify", "indicate", "disconnect"})
_DIS_CHARS = frozenset({"2a29", "2a24", "2a25", "2a27", "2a26", "2a28"})


@dataclass(frozen=True, slots=True)
class CaptureCharacteristic:
    uuid: str
    properties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaptureService:
    uuid: str
    characteristics: tuple[CaptureCharacteristic, ...]


@dataclass(frozen=True, slots=True)
class CaptureHeader:
    name: str
    address: str
    services: tuple[CaptureService, ...]
    dis: dict[str, str] = field(default_factory=dict)
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    t: float
    op: str
    char: str
    data: bytes

    @property
    def from_server(self) -> bool:
        return self.op in SERVER_OPS


@dataclass(frozen=True, slots=True)
class Capture:
    header: CaptureHeader
    events: tuple[CaptureEvent, ...]


def _header_from_json(obj: Any, path: Path) -> CaptureHeader:
    if not isinstance(obj, dict) or not isinstance(obj.get("address"), str):
        raise DecodeError(f"{path}: line 1 must describe the device (name, address, services)")
    try:
        services = tuple(
            CaptureService(
                short_uuid(str(s["uuid"])),
                tuple(
                    CaptureCharacteristic(short_uuid(str(c["uuid"])), tuple(c["properties"]))
                    for c in s["characteristics"]
                ),
            )
            for s in obj.get("services", [])
        )
        recorded = obj.get("recorded_at")
        return CaptureHeader(
            name=str(obj.get("name") or obj["address"]),
            address=str(obj["address"]),
            services=services,
            dis={short_uuid(k): str(v) for k, v in dict(obj.get("dis", {})).items()},
            recorded_at=datetime.fromisoformat(recorded) if recorded else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"{path}: bad device line: {exc}") from exc


def _event_from_json(obj: Any, path: Path, line_no: int) -> CaptureEvent:
    try:
        op = str(obj["op"])
        char = str(obj.get("char") or "")
        event = CaptureEvent(
            t=float(obj.get("t", 0.0)),
            op=op,
            char=short_uuid(char) if char else "",
            data=bytes.fromhex(str(obj.get("hex") or "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"{path}:{line_no}: bad event: {exc}") from exc
    if op not in OPS:
        raise DecodeError(f"{path}:{line_no}: unknown op {op!r}")
    return event


def read_capture(path: Path) -> Capture:
    """Parse a capture file. Raises DecodeError (with the line) for anything malformed."""
    numbered = [
        (number, line)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip()
    ]
    if not numbered:
        raise DecodeError(f"{path}: empty capture")
    parsed: list[tuple[int, Any]] = []
    for number, line in numbered:
        try:
            parsed.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DecodeError(f"{path}: line {number}: not JSON: {exc.msg}") from exc
    header = _header_from_json(parsed[0][1], path)
    events = tuple(_event_from_json(obj, path, number) for number, obj in parsed[1:])
    return Capture(header, events)


def write_capture(path: Path, capture: Capture) -> None:
    h = capture.header
    head: dict[str, Any] = {
        "format": CAPTURE_FORMAT,
        "name": h.name,
        "address": h.address,
        "recorded_at": h.recorded_at.isoformat() if h.recorded_at else None,
        "services": [
            {
                "uuid": s.uuid,
                "characteristics": [
                    {"uuid": c.uuid, "properties": list(c.properties)} for c in s.characteristics
                ],
            }
            for s in h.services
        ],
        "dis": h.dis,
    }
    out = [json.dumps(head, sort_keys=True)]
    out.extend(
        json.dumps(
            {"t": round(e.t, 3), "op": e.op, "char": e.char, "hex": e.data.hex()},
            sort_keys=True,
        )
        for e in capture.events
    )
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


class CaptureRecorder:
    """A link observer that records a live session into a capture file.

    Attach with `link.add_observer(CaptureRecorder(path))`. The capture is complete when the
    link closes (DIS values in the device line are only known after the session read them);
    then `write()` stores it. That is file I/O: call it off the event loop (the runner does).
    """

    def __init__(
        self,
        path: Path,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._start = 0.0
        self._recorded_at: datetime | None = None
        self._name = ""
        self._address = ""
        self._services: tuple[CaptureService, ...] = ()
        self._events: list[CaptureEvent] = []
        self._dis: dict[str, str] = {}
        self.capture: Capture | None = None  # set when the link closes

    def on_open(self, link: BleLink) -> None:
        self._start = self._monotonic()
        self._recorded_at = self._wall_clock()
        self._name = link.device_name
        self._address = link.address
        self._services = tuple(
            CaptureService(
                short_uuid(service),
                tuple(CaptureCharacteristic(short_uuid(u), tuple(p)) for u, p in chars),
            )
            for service, chars in link.services().items()
        )

    def on_traffic(self, op: str, uuid: str, data: bytes) -> None:
        char = short_uuid(uuid) if uuid else ""
        self._events.append(CaptureEvent(self._monotonic() - self._start, op, char, data))
        if op == "read" and char in _DIS_CHARS:
            self._dis[char] = data.decode("utf-8", "replace").rstrip("\x00 ")

    def on_close(self) -> None:
        header = CaptureHeader(
            self._name, self._address, self._services, dict(self._dis), self._recorded_at
        )
        self.capture = Capture(header, tuple(self._events))

    def write(self) -> None:
        """Store the finished capture in `path` (blocking file I/O)."""
        if self.capture is None:
            raise UsageError("capture written before the link closed")
        write_capture(self.path, self.capture)
        _LOGGER.info("capture of %s written to %s (%d events)", self._name, self.path,
                     len(self._events))
