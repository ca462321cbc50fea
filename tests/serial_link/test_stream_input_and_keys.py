from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.clock import UnknownTimeZoneError, site_zone
from core.time_policy import TimeEvidence, decide_time
from drivers.errors import DecodeError, UsageError
from drivers.serial.decode_stream import decode_stream, read_stream_input
from drivers.serial.device_time import clock_offset_s, local_to_utc, utc_to_local
from drivers.serial.natural_key import natural_key

WITA = ZoneInfo("Asia/Makassar")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"02 06 08 03 c2 62\n", bytes.fromhex("02060803c262")),
        (b"0x02,0x06:0803C262", bytes.fromhex("02060803c262")),
        (b"020608\n03c262", bytes.fromhex("02060803c262")),
        (b'P 000,"ZW123456Y","MG/DL " 04C9\r\n', b'P 000,"ZW123456Y","MG/DL " 04C9\r\n'),
        (b"\x02\x06\x08\x03\xc2\x62", b"\x02\x06\x08\x03\xc2\x62"),
        (b"abc", b"abc"),  # odd number of hex digits: taken literally
        (b"", b""),
    ],
)
def test_read_stream_input(raw: bytes, expected: bytes) -> None:
    assert read_stream_input(raw) == expected


def test_decode_stream_unknown_protocol() -> None:
    with pytest.raises(UsageError, match="unknown serial protocol"):
        decode_stream("nope", b"")


def test_decode_stream_dispatches_by_protocol() -> None:
    assert decode_stream("onetouch-ultraeasy", bytes.fromhex("02060803c262")) == [
        {"offset": 0, "sequence": False, "expect": False, "ack": False, "disconnect": True,
         "more": False, "type": "disconnect"}
    ]
    with pytest.raises(DecodeError) as caught:
        decode_stream("onetouch-ultraeasy", bytes.fromhex("02060803c262 ff"))
    assert caught.value.offset == 6


def test_natural_key_layout() -> None:
    when = datetime(2026, 11, 27, 9, 30)
    key = natural_key("ZW123456Y", "C105", device_time=when)
    assert key == "ZW123456Y|2026-11-27T09:30:00|C105"
    assert natural_key(" ZW1 ", "99", index=4) == "ZW1|#4|99"
    assert natural_key("X", "1", index=0, device_time=when) == "X|#0|2026-11-27T09:30:00|1"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"meter_serial": "", "value": "1", "index": 1},
        {"meter_serial": "X", "value": "1"},
        {"meter_serial": "X", "value": "1", "device_time": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
)
def test_natural_key_misuse(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        natural_key(**kwargs)  # type: ignore[arg-type]


def test_site_time_conversions() -> None:
    local = datetime(2026, 11, 27, 10, 0, 0)
    assert local_to_utc(local, WITA) == datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)
    assert utc_to_local(datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC), WITA) == local
    now = datetime(2026, 11, 27, 1, 58, 0, tzinfo=UTC)
    assert clock_offset_s(local, now, WITA) == 120.0
    record = datetime(2026, 11, 26, 8, 0, 0)
    # The correction itself is core.time_policy's now (its own tests are tests/core).
    corrected = decide_time(TimeEvidence(record, now, WITA, clock_offset_s=120.0))
    assert corrected.measured_at == datetime(2026, 11, 25, 23, 58, tzinfo=UTC)
    as_is = decide_time(TimeEvidence(record, now, WITA))
    assert as_is.measured_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def test_site_zone_default_and_errors() -> None:
    # The site zone is core.clock's (one definition); the serial runner turns its error into
    # a UsageError at start-up (tests/serial_link runner tests).
    assert site_zone(None) == WITA
    with pytest.raises(UnknownTimeZoneError):
        site_zone("Not/AZone")
    with pytest.raises(UsageError):
        local_to_utc(datetime(2026, 1, 1, tzinfo=UTC), WITA)
    with pytest.raises(UsageError):
        utc_to_local(datetime(2026, 1, 1), WITA)
