"""The kit's assurance book: what the kader entered per device, and each meter's QC log.

The policy itself is pure (core/assurance.py); this module keeps its inputs and stamps
readings with the verdict before they reach the outbox.

Kept in a small JSON file in the state directory, not in the outbox database: it is a handful
of entries per device that the kader edits by hand and an operator may want to read or restore
with a text editor; it must outlive an outbox that is deleted or rebuilt; and it needs no
migration in step with the outbox schema. Every change is written to a temporary file, fsync'd
and renamed over the old one, so a power cut leaves the old book or the new one, never half.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.assurance import ControlRange, ControlResult, Entries, Policy, judge, judge_control
from core.reading import Assurance, Glucose, Kind, Reading
from gateway.errors import GatewayError

_LOGGER = logging.getLogger(__name__)

BOOK_VERSION = 1


class AssuranceBookError(GatewayError):
    """The assurance book file cannot be read or written; the message says which and why."""


@dataclass(frozen=True, slots=True)
class DeviceBook:
    entries: Entries = dataclasses.field(default_factory=Entries)
    qc: tuple[ControlResult, ...] = ()


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def _entries_to_json(e: Entries) -> dict[str, Any]:
    c = e.control
    return {
        "calibration_due": e.calibration_due.isoformat() if e.calibration_due else None,
        "strip_lot": e.strip_lot,
        "strip_expires": e.strip_expires.isoformat() if e.strip_expires else None,
        "control": None
        if c is None
        else {
            "low_mgdl": c.low_mgdl,
            "high_mgdl": c.high_mgdl,
            "lot": c.lot,
            "expires": c.expires.isoformat() if c.expires else None,
        },
    }


def _entries_from_json(raw: Mapping[str, Any]) -> Entries:
    c = raw.get("control")
    return Entries(
        calibration_due=_date(raw.get("calibration_due")),
        strip_lot=raw.get("strip_lot"),
        strip_expires=_date(raw.get("strip_expires")),
        control=None
        if c is None
        else ControlRange(
            low_mgdl=float(c["low_mgdl"]),
            high_mgdl=float(c["high_mgdl"]),
            lot=c.get("lot"),
            expires=_date(c.get("expires")),
        ),
    )


def _qc_to_json(r: ControlResult) -> dict[str, Any]:
    return {
        "reading_id": r.reading_id,
        "measured_at": r.measured_at.isoformat(),
        "value_mgdl": r.value_mgdl,
        "passed": r.passed,
        "vial_lot": r.vial_lot,
    }


def _qc_from_json(raw: Mapping[str, Any]) -> ControlResult:
    value = raw.get("value_mgdl")
    return ControlResult(
        reading_id=str(raw["reading_id"]),
        measured_at=datetime.fromisoformat(str(raw["measured_at"])),
        value_mgdl=None if value is None else float(value),
        passed=raw.get("passed"),
        vial_lot=raw.get("vial_lot"),
    )


def _parse_book(text: str) -> dict[str, DeviceBook]:
    raw = json.loads(text)
    if raw.get("version") != BOOK_VERSION:
        raise ValueError(f"version {raw.get('version')!r}, expected {BOOK_VERSION}")
    return {
        name: DeviceBook(
            _entries_from_json(body.get("entries") or {}),
            tuple(_qc_from_json(r) for r in body.get("qc") or ()),
        )
        for name, body in raw["devices"].items()
    }


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    # The rename is durable only once the directory entry is on disk too.
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AssuranceBook:
    """Per configured device name: the entries, the QC log, and the verdict for a reading."""

    def __init__(
        self,
        path: Path,
        policy: Policy,
        zone: ZoneInfo,
        clock: Callable[[], datetime],
        *,
        qc_log_max: int = 200,
    ) -> None:
        self.path = path
        self.policy = policy
        self._zone = zone
        self._clock = clock
        self._qc_log_max = qc_log_max
        self._books: dict[str, DeviceBook] = self._load()
        # A device whose config names no kind tells it with its first reading.
        self._kinds: dict[str, Kind] = {}

    def _load(self) -> dict[str, DeviceBook]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise AssuranceBookError(
                f"assurance book {self.path}: cannot read it ({exc.strerror or exc}); "
                "check the state directory's permissions"
            ) from exc
        try:
            return _parse_book(text)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AssuranceBookError(
                f"assurance book {self.path}: not a valid book ({exc}); restore it from a "
                "backup, or move it aside to start an empty one (the kader re-enters the "
                "calibration dates, strip lots and control ranges)"
            ) from exc

    def _save(self) -> None:
        body = {
            "version": BOOK_VERSION,
            "devices": {
                name: {
                    "entries": _entries_to_json(book.entries),
                    "qc": [_qc_to_json(r) for r in book.qc],
                }
                for name, book in sorted(self._books.items())
            },
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(body, indent=1).encode())
        except OSError as exc:
            raise AssuranceBookError(
                f"assurance book {self.path}: cannot write it ({exc.strerror or exc}); "
                "free space in the state directory or fix its permissions"
            ) from exc

    # --- what the kader enters ------------------------------------------------------------

    def entries(self, name: str) -> Entries:
        return self._books.get(name, DeviceBook()).entries

    def set_entries(self, name: str, entries: Entries) -> None:
        book = self._books.get(name, DeviceBook())
        self._books[name] = dataclasses.replace(book, entries=entries)
        self._save()
        _LOGGER.info("assurance entries for %s changed", name)

    # --- the QC log -----------------------------------------------------------------------

    def qc_log(self, name: str) -> tuple[ControlResult, ...]:
        return self._books.get(name, DeviceBook()).qc

    def log_controls(self, name: str, readings: list[Reading]) -> int:
        """Log the control-solution records among `readings` (new ones only); how many."""
        book = self._books.get(name, DeviceBook())
        known = {r.reading_id for r in book.qc}
        new: list[ControlResult] = []
        for reading in sorted(readings, key=lambda r: r.measured_at):
            values = reading.values
            if not isinstance(values, Glucose) or not values.control_solution:
                continue
            if reading.id in known:
                continue  # a meter re-sends its memory on every connection
            known.add(reading.id)
            value = None if values.hi or values.lo else values.glucose_mgdl
            result = judge_control(reading.id, reading.measured_at, value, book.entries.control)
            new.append(result)
            _LOGGER.info("%s: control-solution test logged (passed: %s)", name, result.passed)
        if new:
            qc = (*book.qc, *new)[-self._qc_log_max :]
            self._books[name] = dataclasses.replace(book, qc=qc)
            self._save()
        return len(new)

    # --- verdicts -------------------------------------------------------------------------

    def verdict(self, name: str, kind: Kind | None, battery_pct: int | None) -> Assurance:
        now = self._clock()
        book = self._books.get(name, DeviceBook())
        today = now.astimezone(self._zone).date()
        return judge(kind, book.entries, book.qc, battery_pct, self.policy, now, today)

    def stamp(self, name: str, reading: Reading, battery_pct: int | None) -> Reading:
        """The reading with the device's verdict now; it is stored whatever the verdict."""
        self._kinds[name] = reading.kind
        return dataclasses.replace(
            reading, assurance=self.verdict(name, reading.kind, battery_pct)
        )

    def as_status(self, name: str, kind: str | None, battery_pct: int | None) -> dict[str, Any]:
        known = Kind(kind) if kind else self._kinds.get(name)
        verdict = self.verdict(name, known, battery_pct)
        return {"status": verdict.status.value, "reasons": list(verdict.reasons)}
