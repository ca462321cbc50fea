"""ASTM E1394 records as Bayer/Ascensia Contour meters send them (sans-I/O).

The header `H|\\^&` declares the delimiters: field `|`, repeat `\\`, component `^`, escape
`&` (glucometerutils names them the other way round; the standard is what counts). Records:
H header (meter identity, settings, record count, the meter's clock), P patient, O order,
R result, C comment, L terminator. A result is

    R|seq|^^^Glucose|value|unit^method||markers||YYYYMMDDHHMM[SS]

with method P (plasma), B (whole blood) or C (capillary) and markers such as B (before meal),
A (after meal), F (fasting), D (logbook), `>`/`<` (HI/LO), C (control solution). Markers are
kept verbatim as well as interpreted, so an unknown marker is never lost.

Whole captured transfers for `gempita decode` are walked in `drivers.serial.decode.contour`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from core.units import mmoll_to_mgdl
from drivers.errors import DecodeError, UsageError

MGDL = "mg/dL"
MMOLL = "mmol/L"


@dataclass(frozen=True, slots=True)
class Delimiters:
    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"

    def as_header_prefix(self) -> str:
        return f"H{self.field}{self.repeat}{self.component}{self.escape}"


STANDARD = Delimiters()


@dataclass(frozen=True, slots=True)
class HeaderRecord:
    delimiters: Delimiters
    password: str
    product_code: str
    versions: tuple[str, ...]  # digital, analog, AGP software versions as sent
    serial: str
    sku: str
    settings: Mapping[str, str]  # A=, C=, G=, I=, R=, S=, U=, V=, X=, Y=, Z= ...
    record_count: int | None
    spec_version: str
    meter_time: datetime | None  # the meter's clock when it sent the header (naive, local)
    processing_id: str = ""  # E1394 field 12: "P" (production) on Contour USB, often empty

    @property
    def unit(self) -> str | None:
        code = self.settings.get("U")
        return {"0": MGDL, "1": MMOLL}.get(code or "")


@dataclass(frozen=True, slots=True)
class PatientRecord:
    sequence: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderRecord:
    sequence: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResultRecord:
    sequence: int
    test: str  # "Glucose"
    value: str  # as sent, e.g. "102" or "5.6"
    unit: str  # "mg/dL" or "mmol/L"
    method: str  # "P" plasma, "B" whole blood, "C" capillary, "" not given
    markers: tuple[str, ...]  # verbatim, in order
    taken_at: datetime  # naive meter-local time

    @property
    def hi(self) -> bool:
        return ">" in self.markers

    @property
    def lo(self) -> bool:
        return "<" in self.markers

    @property
    def control(self) -> bool:
        return "C" in self.markers

    @property
    def meal(self) -> str | None:
        if "B" in self.markers:
            return "preprandial"
        if "A" in self.markers:
            return "postprandial"
        if "F" in self.markers:
            return "fasting"
        return None

    @property
    def glucose_mgdl(self) -> float | None:
        """The value in mg/dL, or None for HI/LO (the number is then only the range limit)."""
        if self.hi or self.lo:
            return None
        number = float(self.value)
        return mmoll_to_mgdl(number) if self.unit == MMOLL else number


@dataclass(frozen=True, slots=True)
class CommentRecord:
    sequence: int
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TerminatorRecord:
    sequence: int
    code: str  # "N" normal end


Record = (
    HeaderRecord | PatientRecord | OrderRecord | ResultRecord | CommentRecord | TerminatorRecord
)

_TIME_RE = re.compile(r"\d{12}(\d{2})?")
_VALUE_RE = re.compile(r"\d{1,4}(\.\d{1,2})?")
_SETTING_RE = re.compile(r"([A-Z])=(.*)")


def parse_time(text: str, data: bytes, offset: int) -> datetime:
    if not _TIME_RE.fullmatch(text):
        raise DecodeError(f"time {text!r} is not YYYYMMDDHHMM[SS]", data, offset)
    try:
        return datetime(  # noqa: DTZ001  meter-local wall time; the session applies the zone
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14] or "0"),
        )
    except ValueError as exc:
        raise DecodeError(f"time {text!r} is not a valid date", data, offset) from exc


def format_time(moment: datetime, *, seconds: bool = False) -> str:
    return moment.strftime("%Y%m%d%H%M%S" if seconds else "%Y%m%d%H%M")


def delimiters_from_header(text: bytes) -> Delimiters:
    if len(text) < 5 or text[0:1] != b"H":
        raise DecodeError("header record must start with H and four delimiters", text, 0)
    chars = text[1:5].decode("latin-1")
    if len(set(chars)) != 4 or any(c.isalnum() or c in " \r" for c in chars):
        raise DecodeError("header delimiters must be four distinct symbols", text, 1)
    return Delimiters(field=chars[0], repeat=chars[1], component=chars[2], escape=chars[3])


def decode_record(text: bytes, delimiters: Delimiters = STANDARD) -> Record:
    """Decode one record (the text of its frames joined, CR stripped)."""
    if not text:
        raise DecodeError("empty record", text, 0)
    try:
        line = text.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecodeError("record is not ASCII", text, exc.start) from exc
    kind = line[0]
    if kind == "H":
        return _decode_header(text, line)
    fields = line.split(delimiters.field)
    if len(fields) < 2:
        raise DecodeError(f"record {kind!r} has no sequence field", text, 1)
    seq = _sequence(fields[1], text)
    rest = tuple(fields[2:])
    if kind == "P":
        return PatientRecord(seq, rest)
    if kind == "O":
        return OrderRecord(seq, rest)
    if kind == "C":
        return CommentRecord(seq, rest)
    if kind == "L":
        # Contour meters send `L|1||N` (the code one field later than E1394's `L|1|N`).
        return TerminatorRecord(seq, next((f for f in fields[2:4] if f), ""))
    if kind == "R":
        return _decode_result(text, fields, seq, delimiters)
    raise DecodeError(f"unknown record type {kind!r}", text, 0)


def _sequence(value: str, data: bytes) -> int:
    if not value.isdigit() or not value.isascii():
        raise DecodeError(f"sequence {value!r} is not a number", data, 2)
    return int(value)


def _decode_header(text: bytes, line: str) -> HeaderRecord:
    delims = delimiters_from_header(text)
    fields = line.split(delims.field)
    # fields[1] is the repeat/component/escape declaration.
    if len(fields) < 14:
        raise DecodeError(f"header has {len(fields)} fields, expected 14", text, 0)
    sender = fields[4].split(delims.component)
    if len(sender) < 3:
        raise DecodeError("header sender field lacks product^versions^serial", text, 0)
    settings: dict[str, str] = {}
    for item in fields[5].split(delims.component) if fields[5] else []:
        match = _SETTING_RE.fullmatch(item)
        if match is None:
            raise DecodeError(f"header setting {item!r} is not KEY=value", text, 0)
        settings[match.group(1)] = match.group(2)
    count_text = fields[6]
    if count_text and not (count_text.isdigit() and count_text.isascii()):
        raise DecodeError(f"record count {count_text!r} is not a number", text, 0)
    time_text = fields[13]
    return HeaderRecord(
        delimiters=delims,
        password=fields[3],
        product_code=sender[0],
        versions=tuple(sender[1].split(delims.repeat)) if sender[1] else (),
        serial=sender[2],
        sku=sender[3] if len(sender) > 3 else "",
        settings=MappingProxyType(settings),
        record_count=int(count_text) if count_text else None,
        spec_version=fields[12],
        meter_time=parse_time(time_text, text, 0) if time_text else None,
        processing_id=fields[11],
    )


def _decode_result(
    text: bytes, fields: list[str], seq: int, delims: Delimiters
) -> ResultRecord:
    if len(fields) < 9:
        raise DecodeError(f"result has {len(fields)} fields, expected 9", text, 0)
    test = fields[2].split(delims.component)[-1]
    value = fields[3]
    if not _VALUE_RE.fullmatch(value):
        raise DecodeError(f"result value {value!r} is not a number", text, 0)
    unit, _, method = fields[4].partition(delims.component)
    if unit not in (MGDL, MMOLL):
        raise DecodeError(f"result unit {unit!r} is neither mg/dL nor mmol/L", text, 0)
    markers = tuple(m for m in re.split(r"[/" + re.escape(delims.repeat) + "]", fields[6]) if m)
    return ResultRecord(
        sequence=seq,
        test=test,
        value=value,
        unit=unit,
        method=method,
        markers=markers,
        taken_at=parse_time(fields[8], text, 0),
    )


def encode_record(record: Record, delimiters: Delimiters = STANDARD) -> bytes:
    """Encode one record (without CR) the way a Contour meter writes it."""
    f = delimiters.field
    c = delimiters.component
    if isinstance(record, HeaderRecord):
        d = record.delimiters
        sender = c.join(
            [record.product_code, d.repeat.join(record.versions), record.serial, record.sku]
        )
        settings = d.component.join(f"{k}={v}" for k, v in record.settings.items())
        parts = [
            "H",
            d.repeat + d.component + d.escape,
            "",
            record.password,
            sender,
            settings,
            "" if record.record_count is None else str(record.record_count),
            "",
            "",
            "",
            "",
            record.processing_id,
            record.spec_version,
            format_time(record.meter_time) if record.meter_time else "",
        ]
        return d.field.join(parts).encode("ascii")
    if isinstance(record, ResultRecord):
        seconds = record.taken_at.second != 0
        parts = [
            "R",
            str(record.sequence),
            c * 3 + record.test,
            record.value,
            record.unit + (c + record.method if record.method else ""),
            "",
            "/".join(record.markers),
            "",
            format_time(record.taken_at, seconds=seconds),
        ]
        return f.join(parts).encode("ascii")
    if isinstance(record, TerminatorRecord):
        return f.join(["L", str(record.sequence), "", record.code]).encode("ascii")
    if isinstance(record, PatientRecord | OrderRecord | CommentRecord):
        letter = {PatientRecord: "P", OrderRecord: "O", CommentRecord: "C"}[type(record)]
        return f.join([letter, str(record.sequence), *record.fields]).encode("ascii")
    raise UsageError(f"cannot encode {type(record).__name__}")
