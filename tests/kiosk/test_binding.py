"""The binder attaches a reading to the waiting visit only, and never to a guessed person."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.reading import Glucose, Kind, Reading, Subject, TimeQuality
from core.sink import Binder
from kiosk.binding import SessionBinder
from tests.support.clock import FakeClock

from .helpers import bp_reading, glucose_reading

TIMEOUT = timedelta(minutes=3)


def subject(visit: str) -> Subject:
    return Subject(pseudonym=f"p-{visit}", sealed_nik=f"s-{visit}", session_id=visit)


def test_it_is_a_gateway_binder() -> None:
    binder: Binder = SessionBinder(FakeClock())
    assert callable(binder.bind)


def test_no_session_leaves_the_reading_unbound() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    reading = bp_reading(clock.now, 120, 80)
    assert binder.bind("bp", reading) is reading  # unchanged, as the Binder contract says
    assert binder.unbound_total == 1
    claimed = dataclasses.replace(reading, subject=subject("x"), bound=True)
    assert binder.bind("bp", claimed) == reading  # never keeps a subject it did not give


def test_waiting_session_gets_exactly_one_reading() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    assert binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)
    clock.advance(40)
    first = bp_reading(clock.now, 130, 85)
    out = binder.bind("bp", first)
    assert out == dataclasses.replace(first, subject=subject("a"), bound=True)
    second = bp_reading(clock.now, 131, 86)
    assert binder.bind("bp", second).bound is False
    assert binder.holder("bp") is None


def test_a_device_held_by_one_visit_cannot_be_claimed_by_another() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    assert binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)
    assert not binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    assert binder.claim("glucose", Kind.GLUCOSE, subject("b"), timeout=TIMEOUT)
    assert binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)  # re-claim
    clock.advance(181)  # a's claim expired: the device is free again
    assert binder.holder("bp") is None
    assert binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    assert binder.holder("bp") == "b"


def test_two_residents_on_two_devices_each_get_their_own() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)
    binder.claim("glucose", Kind.GLUCOSE, subject("b"), timeout=TIMEOUT, meal="fasting")
    clock.advance(10)
    g = binder.bind("glucose", glucose_reading(clock.now, 101))
    b = binder.bind("bp", bp_reading(clock.now, 140, 90))
    assert g.subject == subject("b") and g.bound
    assert b.subject == subject("a") and b.bound
    assert g.values.meal == "fasting"  # type: ignore[union-attr]


def test_expired_or_released_claims_bind_nothing() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)
    clock.advance(180)
    assert not binder.bind("bp", bp_reading(clock.now, 120, 80)).bound
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)
    binder.release("a")
    assert not binder.bind("bp", bp_reading(clock.now, 120, 80)).bound
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("a"), timeout=TIMEOUT)
    binder.release("b")  # someone else's release does not touch a's claim
    binder.release("a", "glucose")
    assert binder.bind("bp", bp_reading(clock.now, 120, 80)).bound


def test_old_untimed_wrong_kind_and_control_readings_stay_unbound() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    start = clock.now

    def fresh_claim() -> None:
        binder.claim("glucose", Kind.GLUCOSE, subject("a"), timeout=TIMEOUT)

    fresh_claim()
    # A meter re-sending yesterday's memory.
    assert not binder.bind("glucose", glucose_reading(start - timedelta(days=1), 250)).bound
    # Within the clock-skew grace before the claim: maybe this visit's, maybe the previous
    # resident's arriving late (issue 10 item 3): held unbound, the visit is asked again.
    skewed = glucose_reading(start - timedelta(seconds=90), 99, received_at=start)
    assert not binder.bind("glucose", skewed).bound
    assert binder.held_for(skewed.id) == "a"
    fresh_claim()
    # Received before the claim, even if the device clock says otherwise.
    late_clock = glucose_reading(start, 99, received_at=start - timedelta(seconds=1))
    assert not binder.bind("glucose", late_clock).bound
    assert not binder.bind("glucose", glucose_reading(start, 99, control=True)).bound
    assert not binder.bind("glucose", bp_reading(start, 120, 80)).bound
    untimed = bp_reading(start, 120, 80, quality=TimeQuality.UNKNOWN)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    assert not binder.bind("bp", untimed).bound
    assert binder.unbound_total == 6


def test_meal_from_the_device_is_kept() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    binder.claim("glucose", Kind.GLUCOSE, subject("a"), timeout=TIMEOUT, meal="casual")
    reading = glucose_reading(clock.now, 120)
    assert isinstance(reading.values, Glucose)
    reading = dataclasses.replace(
        reading, values=dataclasses.replace(reading.values, meal="postprandial")
    )
    assert binder.bind("glucose", reading).values.meal == "postprandial"  # type: ignore[union-attr]


# A random interleaving of visits claiming, releasing, waiting and devices sending: whatever
# happens, a bound reading always belongs to the visit that held the device at that moment and
# was taken after that visit's claim.
_step = st.one_of(
    st.tuples(st.just("claim"), st.sampled_from("abc"), st.sampled_from(["bp", "glucose"])),
    st.tuples(st.just("release"), st.sampled_from("abc"), st.none()),
    st.tuples(st.just("wait"), st.integers(1, 120), st.none()),
    st.tuples(st.just("send"), st.sampled_from(["bp", "glucose"]), st.integers(-300, 0)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=30))
def test_bound_readings_always_belong_to_the_holder(steps: list[tuple[object, ...]]) -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    claimed_at: dict[tuple[str, str], object] = {}
    for step in steps:
        action = step[0]
        if action == "claim":
            visit, device = str(step[1]), str(step[2])
            kind = Kind.BLOOD_PRESSURE if device == "bp" else Kind.GLUCOSE
            if binder.claim(device, kind, subject(visit), timeout=TIMEOUT):
                claimed_at[(visit, device)] = clock.now
        elif action == "release":
            binder.release(str(step[1]))
        elif action == "wait":
            clock.advance(float(step[1]))  # type: ignore[arg-type]
        else:
            device, offset = str(step[1]), int(step[2])  # type: ignore[call-overload]
            holder = binder.holder(device)
            at = clock.now + timedelta(seconds=offset)
            reading = bp_reading(at, 120, 80) if device == "bp" else glucose_reading(at, 100)
            out = binder.bind(device, reading)
            if out.bound:
                assert holder is not None
                assert out.subject is not None and out.subject.session_id == holder
                started = claimed_at[(holder, device)]
                assert at >= started - timedelta(minutes=2)  # type: ignore[operator]
            else:
                assert out.subject is None


# --- issue 10 item 3: a reading that began before the claim never goes to the claimant --------


def arriving(reading: Reading, clock: FakeClock) -> Reading:
    """The reading as it reaches the gateway now, whenever it was taken."""
    return dataclasses.replace(reading, received_at=clock.now)


def test_a_late_reading_taken_before_the_claim_is_held_and_the_residents_own_is_bound() -> None:
    """Resident A measured 40 s before B pressed "Siap"; A's result reaches the gateway after
    B's claim. It is within the clock-skew window, so it cannot be B's for sure: it is held
    unbound, B is asked to measure again, and B's own reading is then bound to B."""
    clock = FakeClock()
    binder = SessionBinder(clock)
    claimed = clock.now
    assert binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(5)
    late = arriving(bp_reading(claimed - timedelta(seconds=40), 150, 95), clock)
    out = binder.bind("bp", late)
    assert not out.bound and out.subject is None
    assert binder.held_for(late.id) == "b"  # the measuring screen asks b to measure again
    assert binder.holder("bp") == "b"  # the claim still waits for b's own reading
    clock.advance(50)
    own = bp_reading(clock.now, 121, 79)
    assert binder.bind("bp", own).subject == subject("b")
    assert binder.held_for(own.id) is None


def test_late_reading_after_the_residents_own_stays_unbound() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    claimed = clock.now
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(30)
    assert binder.bind("bp", bp_reading(clock.now, 121, 79)).subject == subject("b")
    clock.advance(2)
    late = arriving(bp_reading(claimed - timedelta(seconds=40), 150, 95), clock)
    assert not binder.bind("bp", late).bound
    assert binder.held_for(late.id) is None  # nobody waits: nothing to ask


def test_asking_again_restarts_the_wait() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    claimed = clock.now
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(170)
    binder.bind("bp", arriving(bp_reading(claimed - timedelta(seconds=10), 150, 95), clock))
    clock.advance(60)  # past the first timeout: the resident is measuring again
    assert binder.holder("bp") == "b"
    assert binder.bind("bp", bp_reading(clock.now, 121, 79)).bound


def test_untrusted_clock_without_cuff_pressure_is_never_bound_on_first_sight() -> None:
    """A reading stamped on receipt (no usable device time) and no cuff pressure seen: when it
    was taken is unknown, so it is held; the re-measurement, arriving in a later transfer than
    the held one, is the resident's."""
    clock = FakeClock()
    binder = SessionBinder(clock)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(150)  # even long after the claim
    first = bp_reading(clock.now, 150, 95, quality=TimeQuality.GATEWAY_RECEIVE)
    same_transfer = bp_reading(clock.now, 151, 96, quality=TimeQuality.GATEWAY_RECEIVE)
    assert not binder.bind("bp", first).bound
    assert not binder.bind("bp", same_transfer).bound  # the same backlog, not a new measurement
    assert binder.held_for(first.id) == "b"
    clock.advance(40)
    again = bp_reading(clock.now, 122, 80, quality=TimeQuality.GATEWAY_RECEIVE)
    assert binder.bind("bp", again).subject == subject("b")


def test_cuff_pressure_after_the_claim_decides_for_an_untrusted_clock() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    binder.note_cuff("bp")  # someone's cuff before the claim proves nothing about b
    clock.advance(1)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(3)
    early = bp_reading(clock.now, 150, 95, quality=TimeQuality.GATEWAY_RECEIVE)
    assert not binder.bind("bp", early).bound  # no inflation since the claim yet
    clock.advance(5)
    binder.note_cuff("bp")  # b's cuff inflates
    clock.advance(30)
    own = bp_reading(clock.now, 120, 80, quality=TimeQuality.GATEWAY_RECEIVE)
    assert binder.bind("bp", own).subject == subject("b")


def test_an_inflation_proves_one_measurement_only() -> None:
    clock = FakeClock()
    binder = SessionBinder(clock)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(5)
    binder.note_cuff("bp")
    clock.advance(30)
    assert binder.bind("bp", bp_reading(clock.now, 120, 80, quality=TimeQuality.GATEWAY_RECEIVE))
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(1)
    second = bp_reading(clock.now, 121, 81, quality=TimeQuality.GATEWAY_RECEIVE)
    assert not binder.bind("bp", second).bound  # that inflation was already used


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=30))
def test_a_bound_reading_was_never_taken_before_its_claim(steps: list[tuple[object, ...]]) -> None:
    """Whatever the interleaving, a reading stamped before the holder's claim is not bound."""
    clock = FakeClock()
    binder = SessionBinder(clock)
    claimed_at: dict[tuple[str, str], object] = {}
    for step in steps:
        action = step[0]
        if action == "claim":
            visit, device = str(step[1]), str(step[2])
            kind = Kind.BLOOD_PRESSURE if device == "bp" else Kind.GLUCOSE
            if binder.claim(device, kind, subject(visit), timeout=TIMEOUT):
                claimed_at[(visit, device)] = clock.now
        elif action == "release":
            binder.release(str(step[1]))
        elif action == "wait":
            clock.advance(float(step[1]))  # type: ignore[arg-type]
        else:
            device, offset = str(step[1]), int(step[2])  # type: ignore[call-overload]
            holder = binder.holder(device)
            at = clock.now + timedelta(seconds=offset)
            reading = bp_reading(at, 120, 80) if device == "bp" else glucose_reading(at, 100)
            # Arriving now, late: received after the claim even when taken before it.
            reading = dataclasses.replace(reading, received_at=clock.now)
            out = binder.bind(device, reading)
            if out.bound:
                assert holder is not None
                assert at >= claimed_at[(holder, device)]  # type: ignore[operator]


def test_a_result_stamped_in_the_second_of_the_claim_is_the_claimants() -> None:
    """Device clocks stamp whole seconds: a result taken 0.4 s after "Siap" at 10:00:00.6
    carries 10:00:01 or, truncated, 10:00:00 -- both are the resident's, not undecided."""
    clock = FakeClock()
    clock.advance(0.6)
    binder = SessionBinder(clock)
    binder.claim("bp", Kind.BLOOD_PRESSURE, subject("b"), timeout=TIMEOUT)
    clock.advance(0.4)
    stamped = clock.now.replace(second=0, microsecond=0)  # the claim's own second
    out = binder.bind("bp", arriving(bp_reading(stamped, 121, 79), clock))
    assert out.subject == subject("b")
    assert binder.held_for(out.id) is None
