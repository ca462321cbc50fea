"""The stable key of one meter record: meter serial + record index or time + value.

`core.reading.reading_id(device, key)` turns this key into the reading id, so the same record
read twice (a retry after a pulled cable, a second kiosk session) gets the same id and the outbox
and central drop the copy. The key uses only what the meter itself says, never gateway time.
LifeScan meters number records newest-first, so their index moves with every new test: those
families key on the meter's own record time instead.
"""

from __future__ import annotations

from datetime import datetime

from drivers.errors import UsageError

_SEPARATOR = "|"


def natural_key(
    meter_serial: str,
    value: str,
    *,
    device_time: datetime | None = None,
    index: int | None = None,
) -> str:
    """Build the record key.

    `value` is the record's value as the meter reported it, including markers that make two
    records at the same minute differ (e.g. ``"C 105"`` for control solution, ``"HI"``).
    `device_time` is the meter's own naive local time. At least one of `device_time` and `index`
    must be given; use `index` only for meters whose record numbers never shift.
    """
    serial = meter_serial.strip()
    if not serial:
        raise UsageError("natural_key needs the meter serial; read it before the records")
    if device_time is None and index is None:
        raise UsageError("natural_key needs the record time or a stable record index")
    if device_time is not None and device_time.tzinfo is not None:
        raise UsageError("natural_key takes the meter's naive local time, as the meter said it")
    parts = [serial]
    if index is not None:
        parts.append(f"#{index}")
    if device_time is not None:
        parts.append(device_time.isoformat(timespec="seconds"))
    parts.append(value.strip())
    return _SEPARATOR.join(parts)
