"""LifeScan OneTouch Ultra 2 / original Ultra: the ASCII "DM" protocol (9600 8N1). Pure codec.

Host -> meter: ``DC1 CR`` + command + ``CR``. Meter -> host: one line per answer, ending in
``SPACE + 4 uppercase hex digits + CR LF``; the hex number is the 16-bit sum of every byte before
that space (`checksums.lifescan_sum16`). Lines (body before the checksum):

* ``DM?``   -> ``?P02.00.00 30/08/06``                          software version
* ``DM@``   -> ``@ "XXXXXXXXY"``                                serial (Ultra 2 serials end in Y)
* ``DMF``   -> ``F "SAT","08/03/13","22:12:00   "``              clock (MM/DD/YY, 2-digit year)
* ``DMT``   + ``MM/DD/YY HH:MM:SS`` -> ``T "DOW","MM/DD/YY","HH:MM:SS   "``   set clock
* ``DMSU?`` -> ``SU?,"MG/DL "`` or ``SU?,"MMOL/L"``             display unit
* ``DMP``   -> header ``P NNN,"SERIAL9","MG/DL "`` then NNN record lines, newest first:
  ``P "DOW","MM/DD/YY","HH:MM:SS   ","C VVV?","M","CC", 00`` (the original Ultra omits the
  ``"M","CC",`` fields). ``C``: ``C`` control solution or space; VVV: mg/dL always; ``?``:
  parity error or space; M: meal N/B/A; CC: comment code 00..11.

Leniency (the notes mark no field as verified against every firmware): a line may start with
stray LF/NUL/non-printable bytes (the CR LF of the previous line, line noise), the value may be
space-padded, and unknown comment codes are kept as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from drivers.errors import DecodeError, UsageError
from drivers.serial.checksums import lifescan_sum16

DC1 = 0x11
CR = 0x0D
LF = 0x0A
LINE_END = b"\r"  # what a reader splits on; the LF that follows is skipped as leading junk

CMD_VERSION = "DM?"
CMD_SERIAL = "DM@"
CMD_READ_CLOCK = "DMF"
CMD_SET_CLOCK = "DMT"
CMD_UNIT = "DMSU?"
CMD_TIME_FORMAT = "DMST?"
CMD_DUMP = "DMP"
CMD_ERASE = "DMZ"
# Longest first: "DMSU?" and "DMST?" must win over shorter prefixes.
_COMMANDS = (CMD_UNIT, CMD_TIME_FORMAT, CMD_VERSION, CMD_SERIAL, CMD_READ_CLOCK,
             CMD_SET_CLOCK, CMD_DUMP, CMD_ERASE)
_SET_CLOCK_ARG_LEN = len("MM/DD/YY HH:MM:SS")

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
UNIT_MGDL = "mg/dL"
UNIT_MMOLL = "mmol/L"
_UNIT_TEXT = {"MG/DL ": UNIT_MGDL, "MMOL/L": UNIT_MMOLL}
_UNIT_WIRE = {v: k for k, v in _UNIT_TEXT.items()}

MEALS = {"N": None, "B": "preprandial", "A": "postprandial"}
_MEAL_WIRE = {v: k for k, v in MEALS.items()}
COMMENTS = {
    0: None,
    1: "not_enough_food",
    2: "too_much_food",
    3: "mild_exercise",
    4: "hard_exercise",
    5: "medication",
    6: "stress",
    7: "illness",
    8: "feel_hypo",
    9: "menses",
    10: "vacation",
    11: "other",
}

# LifeScan meters measure 20..600 mg/dL; the memory keeps the raw number (Tidepool's rule).
LO_BELOW_MGDL = 20
HI_ABOVE_MGDL = 600

_BODY_AND_SUM = re.compile(rb"^(?P<body>.+) (?P<sum>[0-9A-Fa-f]{4})\r?\n?$", re.DOTALL)
_DATE_TIME = r'"(?P<dow>[A-Z]{3})","(?P<date>\d\d/\d\d/\d\d)","(?P<time>\d\d:\d\d:\d\d) {0,3}"'
_CLOCK = re.compile(rf"^(?P<kind>[FT]) {_DATE_TIME}$")
_VERSION = re.compile(r"^\?(?P<version>.+)$")
_SERIAL = re.compile(r'^@ "(?P<serial>[0-9A-Z]{9})"$')
_UNIT = re.compile(r'^SU\?,"(?P<unit>MG/DL |MMOL/L)"$')
DUMP_HEADER = re.compile(
    r'^P (?P<count>\d{3}),"(?P<serial>[0-9A-Z]{9})","(?P<unit>MG/DL |MMOL/L)"$'
)
_RECORD = re.compile(
    rf'^P {_DATE_TIME},"(?P<control>[C ]) (?P<value>[ \d]{{3}})(?P<parity>[? ])",'
    r'(?:"(?P<meal>[NBA])","(?P<comment>\d\d)",)? ?00$'
)


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one of the CMD_* constants
    argument: str = ""  # DMT only: "MM/DD/YY HH:MM:SS"


@dataclass(frozen=True, slots=True)
class Clock:
    time: datetime  # the meter's naive local wall-clock time
    weekday: str
    was_set: bool = False  # True for the DMT answer


@dataclass(frozen=True, slots=True)
class DumpHeader:
    count: int
    serial: str
    unit: str  # display unit; record values are mg/dL regardless


@dataclass(frozen=True, slots=True)
class Record:
    time: datetime  # naive meter local time
    weekday: str
    value_mgdl: int
    control: bool = False
    parity_error: bool = False
    meal: str | None = None  # None, "preprandial", "postprandial"
    comment: int | None = None  # comment code 0..11 (None on the original Ultra)
    extended: bool = True  # False: original Ultra line without meal/comment fields

    @property
    def lo(self) -> bool:
        return self.value_mgdl < LO_BELOW_MGDL

    @property
    def hi(self) -> bool:
        return self.value_mgdl > HI_ABOVE_MGDL

    @property
    def key_value(self) -> str:
        """Every field that tells two records of one minute apart, for the natural key.

        Meal and comment follow the value only when set, so a record without them keeps the
        key earlier releases gave it.
        """
        text = f"{'C' if self.control else ''}{self.value_mgdl}"
        if self.meal is not None:
            text += f" {self.meal}"
        if self.comment:
            text += f" comment:{self.comment}"
        return text


# -- host -> meter ----------------------------------------------------------------------------


def encode_command(command: Command) -> bytes:
    if command.name not in _COMMANDS:
        raise UsageError(f"unknown Ultra 2 command {command.name!r}")
    if (command.name == CMD_SET_CLOCK) != bool(command.argument):
        raise UsageError("only DMT takes an argument, and it needs one")
    return bytes([DC1, CR]) + (command.name + command.argument).encode("ascii") + bytes([CR])


def set_clock_command(local: datetime) -> Command:
    if not 2000 <= local.year <= 2099:
        raise UsageError("the Ultra 2 keeps two-digit years: 2000..2099 only")
    return Command(CMD_SET_CLOCK, local.strftime("%m/%d/%y %H:%M:%S"))


def parse_command(buffer: bytes) -> tuple[Command | None, int]:
    """Meter side: the first complete command in `buffer` and how many bytes it used.

    Wake-up bytes (DC1, CR, LF) and junk before ``DM`` are consumed. Returns ``(None, n)``
    when no complete command is there yet; `n` bytes of junk may be dropped all the same.
    """
    start = buffer.find(b"DM")
    if start < 0:
        # Keep a trailing "D" that may be the start of the next command.
        keep = 1 if buffer.endswith(b"D") else 0
        return None, len(buffer) - keep
    text = buffer[start:].decode("ascii", errors="replace")
    for name in _COMMANDS:
        if text.startswith(name):
            if name != CMD_SET_CLOCK:
                return Command(name), start + len(name)
            end = len(name) + _SET_CLOCK_ARG_LEN
            if len(text) < end:
                return None, start
            return Command(name, text[len(name) : end]), start + end
        if name.startswith(text):
            return None, start  # a prefix of a command: wait for more
    return None, start + 2  # "DM" followed by something unknown: skip it


# -- meter -> host: lines ---------------------------------------------------------------------


def encode_line(body: str) -> bytes:
    raw = body.encode("ascii")
    return raw + b" %04X\r\n" % lifescan_sum16(raw)


def split_line(line: bytes) -> str:
    """Check a line's checksum and return its body (text before the checksum)."""
    start = 0
    while start < len(line) and not 0x20 <= line[start] < 0x7F:
        start += 1  # previous line's LF, NULs, line noise
    match = _BODY_AND_SUM.match(line[start:])
    if match is None:
        raise DecodeError("line without ' XXXX' checksum", line, start)
    body = match.group("body")
    given = int(match.group("sum"), 16)
    if lifescan_sum16(body) != given:
        raise DecodeError(
            f"line checksum {given:04X} != computed {lifescan_sum16(body):04X}", line, start
        )
    try:
        return body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecodeError("line is not ASCII", line, start + exc.start) from exc


def decode_version(line: bytes) -> str:
    match = _VERSION.match(split_line(line))
    if match is None:
        raise DecodeError("not a DM? (version) answer", line)
    return match.group("version").strip()


def encode_version(version: str) -> bytes:
    return encode_line(f"?{version}")


def decode_serial(line: bytes) -> str:
    match = _SERIAL.match(split_line(line))
    if match is None:
        raise DecodeError("not a DM@ (serial) answer", line)
    return match.group("serial")


def encode_serial(serial: str) -> bytes:
    _check_serial(serial)
    return encode_line(f'@ "{serial}"')


def decode_clock(line: bytes) -> Clock:
    body = split_line(line)
    match = _CLOCK.match(body)
    if match is None:
        raise DecodeError("not a DMF/DMT (clock) answer", line)
    return Clock(_date_time(match, line), match.group("dow"), match.group("kind") == "T")


def encode_clock(clock: Clock) -> bytes:
    kind = "T" if clock.was_set else "F"
    return encode_line(f"{kind} {_encode_date_time(clock.time)}")


def decode_unit(line: bytes) -> str:
    match = _UNIT.match(split_line(line))
    if match is None:
        raise DecodeError("not a DMSU? (unit) answer", line)
    return _UNIT_TEXT[match.group("unit")]


def encode_unit(unit: str) -> bytes:
    return encode_line(f'SU?,"{_unit_wire(unit)}"')


def decode_dump_header(line: bytes) -> DumpHeader:
    match = DUMP_HEADER.match(split_line(line))
    if match is None:
        raise DecodeError("not a DMP header", line)
    return DumpHeader(int(match.group("count")), match.group("serial"),
                      _UNIT_TEXT[match.group("unit")])


def encode_dump_header(header: DumpHeader) -> bytes:
    if not 0 <= header.count <= 999:
        raise UsageError("the DMP header has three digits for the count")
    _check_serial(header.serial)
    return encode_line(f'P {header.count:03d},"{header.serial}","{_unit_wire(header.unit)}"')


def decode_record(line: bytes) -> Record:
    match = _RECORD.match(split_line(line))
    if match is None:
        raise DecodeError("not a DMP record line", line)
    value_text = match.group("value").strip()
    if not value_text:
        raise DecodeError("record without a value", line)
    comment_text = match.group("comment")
    extended = match.group("meal") is not None
    return Record(
        time=_date_time(match, line),
        weekday=match.group("dow"),
        value_mgdl=int(value_text),
        control=match.group("control") == "C",
        parity_error=match.group("parity") == "?",
        meal=MEALS[match.group("meal")] if extended else None,
        comment=int(comment_text) if comment_text is not None else None,
        extended=extended,
    )


def encode_record(record: Record) -> bytes:
    if not 0 <= record.value_mgdl <= 999:
        raise UsageError("record values have three digits")
    value = (f'"{"C" if record.control else " "} {record.value_mgdl:03d}'
             f'{"?" if record.parity_error else " "}"')
    extra = ""
    if record.extended:
        if record.meal not in _MEAL_WIRE:
            raise UsageError(f"unknown meal {record.meal!r}")
        comment = record.comment or 0
        if not 0 <= comment <= 99:
            raise UsageError("comment codes have two digits")
        extra = f'"{_MEAL_WIRE[record.meal]}","{comment:02d}",'
    return encode_line(f"P {_encode_date_time(record.time)},{value},{extra} 00")


def encode_erased() -> bytes:
    return encode_line("Z")


# -- helpers ----------------------------------------------------------------------------------


def _date_time(match: re.Match[str], line: bytes) -> datetime:
    month, day, year = (int(p) for p in match.group("date").split("/"))
    hour, minute, second = (int(p) for p in match.group("time").split(":"))
    try:
        # Two-digit years: the firmware is not Y2K-safe; every Ultra 2 was sold after 2000.
        # Naive on purpose (DTZ001): it is the meter's zone-less wall clock, converted to UTC
        # only in device_time with the site zone and the measured clock offset.
        return datetime(2000 + year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError as exc:
        raise DecodeError(f"impossible date/time: {exc}", line) from exc


def _encode_date_time(moment: datetime) -> str:
    if not 2000 <= moment.year <= 2099:
        raise UsageError("the Ultra 2 keeps two-digit years: 2000..2099 only")
    return (f'"{WEEKDAYS[moment.weekday()]}","{moment:%m/%d/%y}","{moment:%H:%M:%S}   "')


def _unit_wire(unit: str) -> str:
    try:
        return _UNIT_WIRE[unit]
    except KeyError:
        raise UsageError(f"unit must be {UNIT_MGDL!r} or {UNIT_MMOLL!r}") from None


def _check_serial(serial: str) -> None:
    if not re.fullmatch(r"[0-9A-Z]{9}", serial):
        raise UsageError("Ultra 2 serials are nine characters 0-9/A-Z")
