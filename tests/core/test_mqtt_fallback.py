"""When paho's private API is not what the fast path needs, readings go by paho's publish().

A paho release that renamed or reshaped a private name is simulated by a client injected
through `Publisher(fast_client=...)` / `MqttConnection(fast_client=...)`: a `_Client` whose
new instances lack or reshape one attribute (paho itself is not touched). Real mosquitto, real
outbox, real central: the readings must arrive and be acknowledged, with one warning line.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from core.backoff import Backoff
from core.mqtt import BrokerSettings, MqttConnection, _Client
from gateway.outbox import Outbox
from gateway.publisher import Publisher
from tests.support.harness import make_reading, running_central, wait_for
from tests.support.mosquitto import Mosquitto


class _InPacketRenamed(_Client):
    """As if paho renamed `_in_packet` (its own code would use the new name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_packet_v3 = self._in_packet
        del self._in_packet


class _OutPacketAList(_Client):
    """As if paho kept its send queue in a list instead of a deque."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._out_packet = list(self._out_packet)  # type: ignore[assignment]


def fallback_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "core.mqtt" and r.levelno == logging.WARNING and "public" in r.getMessage()
    ]


async def deliver(
    tmp_path: Path, broker_url: str, count: int, fast_client: type[_Client] | None
) -> tuple[Publisher, set[str], set[str]]:
    readings = [make_reading(n) for n in range(count)]
    extra = {} if fast_client is None else {"fast_client": fast_client}
    settings = BrokerSettings(url=broker_url, client_id="gw-001")
    async with (
        running_central(broker_url, tmp_path / "central.db") as central,
        Outbox(tmp_path / "outbox.db") as outbox,
    ):
        publisher = Publisher(
            outbox, settings, "gw-001", backoff=Backoff(initial_s=0.05, cap_s=0.5), **extra
        )
        task = asyncio.create_task(publisher.run(), name="publisher-under-test")
        try:
            await outbox.commit(readings)

            async def all_confirmed() -> bool:
                if task.done():
                    task.result()
                counts = await outbox.counts()
                return counts.confirmed == count and counts.unconfirmed == 0

            await wait_for(all_confirmed, 30, f"{count} readings confirmed by central")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return publisher, central.store.ids(), {r.id for r in readings}


@pytest.mark.parametrize("stripped", [_InPacketRenamed, _OutPacketAList])
async def test_readings_are_delivered_and_acked_through_pahos_public_publish(
    tmp_path: Path,
    mosquitto: Mosquitto,
    caplog: pytest.LogCaptureFixture,
    stripped: type[_Client],
) -> None:
    caplog.set_level(logging.WARNING, logger="core.mqtt")
    publisher, stored, ids = await deliver(tmp_path, mosquitto.url, 1500, stripped)
    assert stored == ids
    assert publisher.state.published_total == 1500  # every PUBACK seen, PUBLISHED committed
    warnings = fallback_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    attribute = "_in_packet" if stripped is _InPacketRenamed else "_out_packet"
    assert f"paho.Client().{attribute}" in warnings[0].getMessage()


async def test_the_fast_path_is_used_when_paho_matches(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.mqtt")
    _publisher, stored, ids = await deliver(tmp_path, mosquitto.url, 300, None)
    assert stored == ids
    assert not fallback_warnings(caplog)


async def test_a_connection_says_which_path_it_uses_and_warns_once(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.mqtt")

    class _LastBytesAnInt(_Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._last_bytes_received = 0  # an int: reshaped

    acked: list[tuple[int, int]] = []
    settings = BrokerSettings(url=mosquitto.url, client_id="t")
    for _ in range(2):  # reconnecting must not repeat the warning
        conn = MqttConnection(
            settings,
            on_publish=lambda mid, code, _name: acked.append((mid, code)),
            fast_client=_LastBytesAnInt,
        )
        assert not conn.fast_path
        assert type(conn.client) is not _LastBytesAnInt
        await conn.connect()
        try:
            conn.subscribe("t/#")
            mid = conn.publish("t/readings", b"{}")
            await wait_for(lambda mid=mid: any(m == mid for m, _ in acked), 5, "PUBACK")  # type: ignore[misc]
        finally:
            await conn.close()
    assert all(code < 0x80 for _mid, code in acked)
    warnings = fallback_warnings(caplog)
    assert len(warnings) == 1
    assert "paho.Client()._last_bytes_received is a int" in warnings[0].getMessage()
    default = MqttConnection(settings)
    assert default.fast_path
    await default.close()
