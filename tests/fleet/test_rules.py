"""Fleet alarm rules: each rule raises at its threshold and not before, with an injected clock."""

from __future__ import annotations

import dataclasses

from central.fleet_rules import (
    TEXTS,
    Alarm,
    DeviceSnapshot,
    GatewaySnapshot,
    Severity,
    Thresholds,
    evaluate,
    text,
)
from tests.support.clock import FakeClock

DAY = 86400.0
LIMITS = Thresholds(offline_after_s=300.0, device_silent_days=7.0, kit_unsynced_days=3.0)


def healthy(now: float, **changes: object) -> GatewaySnapshot:
    gw = GatewaySnapshot(
        gateway_id="gw-1",
        state="online",
        last_seen=now,
        reported_alarms=(),
        oldest_unconfirmed_age_s=None,
        clock_trusted=True,
        devices=(DeviceSnapshot("bp", now, None),),
    )
    return dataclasses.replace(gw, **changes)  # type: ignore[arg-type]


def codes(alarms: list[Alarm]) -> list[str]:
    return [a.code for a in alarms]


def test_a_healthy_gateway_has_no_alarm() -> None:
    now = FakeClock()().timestamp()
    assert evaluate(healthy(now), now, LIMITS) == []


def test_the_last_will_is_offline_at_once() -> None:
    now = FakeClock()().timestamp()
    assert evaluate(healthy(now, state="offline"), now, LIMITS) == [
        Alarm("offline", Severity.CRITICAL, "fleet.alarm.offline")
    ]


def test_silence_becomes_not_seen_after_the_threshold() -> None:
    clock = FakeClock()
    gw = healthy(clock().timestamp())
    clock.advance(299)
    assert evaluate(gw, clock().timestamp(), LIMITS) == []
    clock.advance(1)
    assert codes(evaluate(gw, clock().timestamp(), LIMITS)) == ["not_seen"]


def test_reported_alarms_become_codes_without_their_detail() -> None:
    now = FakeClock()().timestamp()
    gw = healthy(
        now,
        reported_alarms=("outbox_full", "storage_error: /var/lib/gempita full", "status_file: x"),
    )
    alarms = evaluate(gw, now, LIMITS)
    assert codes(alarms) == ["outbox_full", "storage_error", "reported:status_file"]
    assert [a.severity for a in alarms] == [Severity.CRITICAL, Severity.CRITICAL, Severity.WARNING]


def test_an_untrusted_clock_warns_and_an_unknown_one_does_not() -> None:
    now = FakeClock()().timestamp()
    assert codes(evaluate(healthy(now, clock_trusted=False), now, LIMITS)) == ["clock_untrusted"]
    assert evaluate(healthy(now, clock_trusted=None), now, LIMITS) == []


def test_a_device_not_seen_for_days() -> None:
    clock = FakeClock()
    seen = clock().timestamp()
    clock.advance(7 * DAY - 1)
    now = clock().timestamp()
    gw = healthy(now, devices=(DeviceSnapshot("bp", seen, None), DeviceSnapshot("gl", None, None)))
    assert evaluate(gw, now, LIMITS) == []
    clock.advance(1)
    now = clock().timestamp()
    gw = dataclasses.replace(gw, last_seen=now)
    assert codes(evaluate(gw, now, LIMITS)) == ["device_silent:bp"]


def test_a_device_error_is_informational() -> None:
    now = FakeClock()().timestamp()
    gw = healthy(now, devices=(DeviceSnapshot("bp", now, "link lost"),))
    assert evaluate(gw, now, LIMITS) == [
        Alarm("device_error:bp", Severity.INFO, "fleet.alarm.device_error")
    ]


def test_a_device_out_of_policy_warns_by_name() -> None:
    now = FakeClock()().timestamp()
    fit, unfit = DeviceSnapshot("bp", now, None), DeviceSnapshot("gluco", now, None, True)
    assert evaluate(healthy(now, devices=(fit, unfit)), now, LIMITS) == [
        Alarm("device_check:gluco", Severity.WARNING, "fleet.alarm.device_check")
    ]


def test_a_kit_out_of_reach_keeps_ageing() -> None:
    clock = FakeClock()
    heard = clock().timestamp()
    gw = healthy(heard, oldest_unconfirmed_age_s=2 * DAY, state="offline")
    assert codes(evaluate(gw, heard, LIMITS)) == ["offline"]
    clock.advance(DAY)  # a day later, still not heard from: its oldest reading is 3 days old
    assert codes(evaluate(gw, clock().timestamp(), LIMITS)) == ["offline", "kit_unsynced"]


def test_alarms_are_worst_first_and_every_text_has_both_languages() -> None:
    now = FakeClock()().timestamp()
    gw = healthy(
        now,
        state="offline",
        clock_trusted=False,
        reported_alarms=("outbox_full",),
        devices=(DeviceSnapshot("bp", now, "x"),),
    )
    alarms = evaluate(gw, now, LIMITS)
    assert [a.severity for a in alarms] == sorted((a.severity for a in alarms), reverse=True)
    for alarm in alarms:
        assert text(alarm.text_key, "id") != text(alarm.text_key, "en")
    assert all(len(pair) == 2 and all(pair) for pair in TEXTS.values())
    assert text("fleet.alarm.offline") == "Gateway tidak terhubung"  # Bahasa Indonesia first
