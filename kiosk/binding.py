"""Binding a device's reading to the resident whose session is waiting for it.

A session *claims* a device before the resident measures; the gateway calls `bind` for every
reading before committing it. A reading is bound only when all of these hold:

- a live (not expired) claim exists for exactly that device name, for that kind of reading;
- it is not a control-solution test, and its time is known at all;
- the gateway had not already received it before the claim started: meters re-send their whole
  memory every session, so the previous resident's reading (or one stored before the kiosk
  opened) arrives again while the next resident waits;
- it was *taken after the claim started*. A reading can reach the gateway late (the previous
  resident's result is transferred just after the next one pressed "Siap"), so arriving after
  the claim proves nothing. The order is decided by what the gateway can trust:
  - a device clock the gateway checked (`SYNCED`, `DEVICE_CLOCK`): taken at or after the claim
    is after; more than the clock-skew grace before it is someone else's; inside the grace
    before the claim it may be either (skew, minute-only meter clocks), so it is undecided;
  - no usable device time (`GATEWAY_RECEIVE`): only live cuff pressure (0x2A36) from the device
    after the claim, and after the device's previous reading, shows that a measurement began
    after the claim; one inflation vouches for one reading. Without it, undecided.

An undecided reading is held unbound and the waiting resident is asked to measure again
(`held_for` names the visit; the claim's wait restarts). A device without a usable clock or
cuff pressure cannot show its re-measurement is new either, so after asking, the first reading
that arrives in a *later* transfer than the held one is taken as the re-measurement: a
device's backlog arrives in one transfer.

One claim takes one reading; anything else from the device stays unbound (`bound=False`,
no subject) and is counted for the operator. Only one session may hold a device at a time, so
two residents can never receive each other's reading.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.reading import Glucose, Kind, Reading, Subject, TimeQuality

_LOGGER = logging.getLogger(__name__)

# Reading ids remembered with the time the binder first saw them. A meter's memory holds a few
# hundred records at most; the oldest ids are forgotten first.
_SEEN_MAX = 20_000
# Readings held back as undecided, remembered so the waiting visit's screen can ask again.
_HELD_MAX = 200


@dataclass(frozen=True, slots=True)
class Claim:
    device_name: str
    kind: Kind
    subject: Subject  # subject.session_id identifies the visit the reading belongs to
    claimed_at: datetime
    expires_at: datetime
    meal: str | None = None  # "fasting" / "casual": the resident's answer, for glucose
    timeout: timedelta = timedelta(minutes=3)
    asked_at: datetime | None = None  # when an undecided reading made us ask to measure again


class Order(enum.Enum):
    """Whether a reading was taken after the claim started, as far as the gateway can tell."""

    AFTER = "after"
    BEFORE = "before"
    UNDECIDED = "undecided"


class SessionBinder:
    """Implements core.sink.Binder for kiosk and kader sessions. Thread-safe."""

    def __init__(
        self, clock: Callable[[], datetime], *, skew_grace: timedelta = timedelta(minutes=2)
    ) -> None:
        self._clock = clock
        self._grace = skew_grace
        self._lock = threading.Lock()
        self._claims: dict[str, Claim] = {}
        self._first_seen: OrderedDict[str, datetime] = OrderedDict()
        self._held: OrderedDict[str, str] = OrderedDict()  # reading id -> visit asked again
        self._cuff_at: dict[str, datetime] = {}  # device -> last live cuff pressure
        self._cuff_used: dict[str, datetime] = {}  # device -> cuff time a reading relied on
        self._last_reading_at: dict[str, datetime] = {}  # device -> last new reading seen
        self.unbound_total = 0
        self.undecided_total = 0

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
            self._claims[device_name] = Claim(
                device_name, kind, subject, now, now + timeout, meal, timeout
            )
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

    def note_cuff(self, device_name: str) -> None:
        """Live cuff pressure from the device: a measurement is in progress right now."""
        with self._lock:
            self._cuff_at[device_name] = self._clock()

    def held_for(self, reading_id: str) -> str | None:
        """The visit asked to measure again because this reading could not be told apart."""
        with self._lock:
            return self._held.get(reading_id)

    def bind(self, device_name: str, reading: Reading) -> Reading:
        now = self._clock()
        with self._lock:
            claim = self._claims.get(device_name)
            first_seen = self._seen(reading.id, now)
            previous_at = self._last_reading_at.get(device_name)
            if first_seen == now:
                self._last_reading_at[device_name] = now
            reason = _refusal(claim, reading, now, first_seen)
            order = Order.BEFORE
            if claim is not None and reason is None:
                order = self._order(claim, device_name, reading, previous_at, first_seen)
                if order is Order.BEFORE:
                    reason = "taken before the session started"
                elif order is Order.UNDECIDED:
                    reason = "cannot tell whether it was taken after the session started"
            if claim is None or reason is not None:
                self.unbound_total += 1
                if claim is not None and order is Order.UNDECIDED:
                    self._ask_again(claim, reading.id, now)
                _LOGGER.info("reading %s from %s left unbound: %s", reading.id, device_name, reason)
                if reading.subject is None and not reading.bound:
                    return reading
                return dataclasses.replace(reading, subject=None, bound=False)
            del self._claims[device_name]
            if reading.time_quality is TimeQuality.GATEWAY_RECEIVE:
                cuff = self._cuff_at.get(device_name)
                if cuff is not None:
                    self._cuff_used[device_name] = cuff
        values = reading.values
        if isinstance(values, Glucose) and values.meal is None and claim.meal is not None:
            values = dataclasses.replace(values, meal=claim.meal)
        return dataclasses.replace(reading, subject=claim.subject, bound=True, values=values)

    def _order(
        self,
        claim: Claim,
        device_name: str,
        reading: Reading,
        previous_at: datetime | None,
        first_seen: datetime,
    ) -> Order:
        """Caller holds the lock; `_refusal` already passed (the time is known)."""
        # Device clocks stamp whole seconds (the BLE Date Time field has no fraction): a
        # result taken in the second the resident pressed "Siap" carries that second, which
        # is before the claim's exact instant.
        start = claim.claimed_at.replace(microsecond=0)
        if reading.time_quality in (TimeQuality.SYNCED, TimeQuality.DEVICE_CLOCK):
            if reading.measured_at >= start:
                return Order.AFTER
            if reading.measured_at < start - self._grace:
                return Order.BEFORE
            return Order.UNDECIDED
        # No usable device time: measured_at is only when it arrived.
        cuff = self._cuff_at.get(device_name)
        if (
            cuff is not None
            and cuff >= start
            and (previous_at is None or cuff > previous_at)
            and self._cuff_used.get(device_name) != cuff
        ):
            return Order.AFTER
        if claim.asked_at is not None and first_seen > claim.asked_at:
            return Order.AFTER  # a later transfer than the held backlog: the re-measurement
        return Order.UNDECIDED

    def _ask_again(self, claim: Claim, reading_id: str, now: datetime) -> None:
        """Hold the claim for the re-measurement, with a fresh wait (caller holds the lock)."""
        self.undecided_total += 1
        self._claims[claim.device_name] = dataclasses.replace(
            claim, asked_at=now, expires_at=now + claim.timeout
        )
        session_id = claim.subject.session_id
        if session_id is not None:
            self._held[reading_id] = session_id
            if len(self._held) > _HELD_MAX:
                self._held.popitem(last=False)

    def _seen(self, reading_id: str, now: datetime) -> datetime:
        """When this reading first reached the binder (caller holds the lock)."""
        first = self._first_seen.setdefault(reading_id, now)
        self._first_seen.move_to_end(reading_id)
        if len(self._first_seen) > _SEEN_MAX:
            self._first_seen.popitem(last=False)
        return first


def _refusal(
    claim: Claim | None, reading: Reading, now: datetime, first_seen: datetime
) -> str | None:
    if claim is None:
        return "no session waiting"
    if claim.expires_at <= now:
        return "session stopped waiting"
    if reading.kind is not claim.kind:
        return "session waits for another kind"
    if reading.time_quality is TimeQuality.UNKNOWN:
        return "reading time unknown"
    if reading.received_at is not None and reading.received_at < claim.claimed_at:
        return "received before the session started"
    if first_seen < claim.claimed_at:
        return "already received before the session started"
    if isinstance(reading.values, Glucose) and reading.values.control_solution:
        return "control solution"
    return None
