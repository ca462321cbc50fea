"""Binding a device's reading to the resident whose session is waiting for it.

A session *claims* a device before the resident measures; the gateway calls `bind` for every
reading before committing it. A reading is bound only when all of these hold:

- a live (not expired) claim exists for exactly that device name, for that kind of reading;
- the reading was taken after the claim started (minus a small clock-skew grace) and its time
  can be trusted at all: a glucometer re-sending its memory must not hand last week's reading
  to today's resident;
- it is not a control-solution test;
- the gateway had not already received it before the claim started: meters re-send their whole
  memory every session, so the previous resident's reading (or one stored before the kiosk
  opened) arrives again while the next resident waits, with a time inside the skew grace.

One claim takes one reading; anything else from the device stays unbound (`bound=False`,
no subject) and is counted for the operator. Only one session may hold a device at a time, so
two residents can never receive each other's reading.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.reading import Glucose, Kind, Reading, Subject, TimeQuality

_LOGGER = logging.getLogger(__name__)

# Reading ids remembered with the time the binder first saw them. A meter's memory holds a few
# hundred records at most; the oldest ids are forgotten first.
_SEEN_MAX = 20_000


@dataclass(frozen=True, slots=True)
class Claim:
    device_name: str
    kind: Kind
    subject: Subject  # subject.session_id identifies the visit the reading belongs to
    claimed_at: datetime
    expires_at: datetime
    meal: str | None = None  # "fasting" / "casual": the resident's answer, for glucose


class SessionBinder:
    """Implements gateway.sink.Binder for kiosk and kader sessions. Thread-safe."""

    def __init__(
        self, clock: Callable[[], datetime], *, skew_grace: timedelta = timedelta(minutes=2)
    ) -> None:
        self._clock = clock
        self._grace = skew_grace
        self._lock = threading.Lock()
        self._claims: dict[str, Claim] = {}
        self._first_seen: OrderedDict[str, datetime] = OrderedDict()
        self.unbound_total = 0

    def claim(
        self,
        device_name: str,
        kind: Kind,
        subject: Subject,
        *,
        timeout: timedelta,
        meal: str | None = None,
    ) -> bool:
        """Reserve the device for `subject`; False when another visit holds it."""
        if not subject.session_id:
            raise ValueError("a claim needs a subject with a session id")
        now = self._clock()
        with self._lock:
            current = self._claims.get(device_name)
            if (
                current is not None
                and current.expires_at > now
                and current.subject.session_id != subject.session_id
            ):
                return False
            self._claims[device_name] = Claim(device_name, kind, subject, now, now + timeout, meal)
            return True

    def release(self, session_id: str, device_name: str | None = None) -> None:
        """Drop the visit's claims (all devices, or one)."""
        with self._lock:
            for name, claim in list(self._claims.items()):
                if claim.subject.session_id == session_id and device_name in (None, name):
                    del self._claims[name]

    def holder(self, device_name: str) -> str | None:
        """Session id of the visit currently waiting on the device, if any."""
        with self._lock:
            claim = self._claims.get(device_name)
            if claim is None or claim.expires_at <= self._clock():
                return None
            return claim.subject.session_id

    def bind(self, device_name: str, reading: Reading) -> Reading:
        now = self._clock()
        with self._lock:
            claim = self._claims.get(device_name)
            first_seen = self._seen(reading.id, now)
            reason = _refusal(claim, reading, now, self._grace, first_seen)
            if claim is None or reason is not None:
                self.unbound_total += 1
                _LOGGER.info("reading %s from %s left unbound: %s", reading.id, device_name, reason)
                if reading.subject is None and not reading.bound:
                    return reading
                return dataclasses.replace(reading, subject=None, bound=False)
            del self._claims[device_name]
        values = reading.values
        if isinstance(values, Glucose) and values.meal is None and claim.meal is not None:
            values = dataclasses.replace(values, meal=claim.meal)
        return dataclasses.replace(reading, subject=claim.subject, bound=True, values=values)

    def _seen(self, reading_id: str, now: datetime) -> datetime:
        """When this reading first reached the binder (caller holds the lock)."""
        first = self._first_seen.setdefault(reading_id, now)
        self._first_seen.move_to_end(reading_id)
        if len(self._first_seen) > _SEEN_MAX:
            self._first_seen.popitem(last=False)
        return first


def _refusal(
    claim: Claim | None, reading: Reading, now: datetime, grace: timedelta, first_seen: datetime
) -> str | None:
    if claim is None:
        return "no session waiting"
    if claim.expires_at <= now:
        return "session stopped waiting"
    if reading.kind is not claim.kind:
        return "session waits for another kind"
    if reading.time_quality is TimeQuality.UNKNOWN:
        return "reading time unknown"
    if reading.measured_at < claim.claimed_at - grace:
        return "taken before the session started"
    if reading.received_at is not None and reading.received_at < claim.claimed_at:
        return "received before the session started"
    if first_seen < claim.claimed_at:
        return "already received before the session started"
    if isinstance(reading.values, Glucose) and reading.values.control_solution:
        return "control solution"
    return None
