from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from core.devices import DeviceConfig, DeviceContext, DeviceStatus
from core.events import EventBus
from drivers.errors import DeviceSessionError, UsageError
from drivers.serial import registry
from drivers.serial.errors import PortMissingError
from drivers.serial.line_settings import LineSettings
from drivers.serial.registry import SerialProtocol, UsbId
from drivers.serial.runner import PortInfo, make_runner
from gateway.transports import runner_factory
from tests.support.sink import MemorySink


def _config(**kwargs: Any) -> DeviceConfig:
    base: dict[str, Any] = {"name": "gm-1", "transport": "serial", "protocol": "onetouch-ultra2"}
    base.update(kwargs)
    return DeviceConfig(**base)


def _ctx(config: DeviceConfig) -> DeviceContext:
    return DeviceContext(
        config=config,
        sink=MemorySink(),
        status=DeviceStatus(config.name, config.transport),
        events=EventBus(),
        gateway_id="gw",
        site_id=None,
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_gateway_finds_the_serial_runner_factory() -> None:
    assert runner_factory("serial") is make_runner


def test_registry_lookup_by_name_and_alias() -> None:
    assert registry.get("onetouch-ultra2").name == "onetouch-ultra2"
    assert registry.get("OneTouch-Ultra").name == "onetouch-ultra2"
    assert registry.get("ultramini").name if False else True
    assert registry.get("onetouch-ultramini").name == "onetouch-ultraeasy"
    assert {"onetouch-ultra2", "onetouch-ultraeasy"} <= set(registry.names())


def test_unknown_protocol_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="onetouch-ultra2"):
        registry.get("accu-chek")


def test_registering_a_name_twice_is_refused() -> None:
    duplicate = SerialProtocol(
        "onetouch-ultra2", "glucose", session="x:y", stream_decoder="x:y", line=LineSettings()
    )
    with pytest.raises(UsageError, match="twice"):
        registry.register(duplicate)


def test_registry_targets_resolve() -> None:
    for protocol in (registry.get("onetouch-ultra2"), registry.get("onetouch-ultraeasy")):
        assert callable(protocol.load_session())
        assert callable(protocol.load_stream_decoder())


def test_usb_lookup_is_ambiguous_by_design() -> None:
    found = {p.name for p in registry.protocols_for_usb(0x067B, 0x2303)}
    assert {"onetouch-ultra2", "onetouch-ultraeasy"} <= found
    assert registry.protocols_for_usb(0xDEAD, 0xBEEF) == []


@pytest.mark.parametrize(
    ("text", "ids"), [("067b:2303", (0x067B, 0x2303)), (" 0403:6001 ", (0x0403, 0x6001))]
)
def test_usb_id_parse(text: str, ids: tuple[int, int]) -> None:
    assert UsbId.parse(text) == ids


@pytest.mark.parametrize("text", ["067b2303", "zz:2303", "10000:1", ""])
def test_usb_id_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        UsbId.parse(text)


def test_make_runner_validates_protocol_and_options() -> None:
    with pytest.raises(UsageError, match="needs a protocol"):
        make_runner(_config(protocol=None))
    with pytest.raises(UsageError, match="set_clock"):
        make_runner(_config(options={"set_clock": "yes"}))
    with pytest.raises(UsageError, match="time zone"):
        make_runner(_config(options={"site_tz": "Mars/Olympus"}))
    with pytest.raises(UsageError, match="timeout_s"):
        make_runner(_config(options={"timeout_s": 0}))


async def test_missing_port_path_fails_fast(tmp_path: Any) -> None:
    config = _config(port=str(tmp_path / "usb-LifeScan-if00"))
    runner = make_runner(config)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(PortMissingError) as caught:
        await runner.run_once(_ctx(config))
    assert loop.time() - start < 1.0
    assert isinstance(caught.value, DeviceSessionError)


def _lister(ports: Sequence[PortInfo]) -> Any:
    return lambda: list(ports)


async def test_port_found_by_explicit_usb_id() -> None:
    ports = [PortInfo("/dev/ttyUSB0", 0x0403, 0x6001), PortInfo("/dev/ttyUSB1", 0x067B, 0x2303)]
    runner = make_runner(_config(usb_vid_pid="067b:2303"), port_lister=_lister(ports))
    assert await runner.resolve_port() == "/dev/ttyUSB1"


async def test_port_found_by_protocol_usb_table() -> None:
    ports = [PortInfo("/dev/ttyACM0", 0x1A79, 0x6002), PortInfo("/dev/ttyUSB3", 0x1A86, 0x7523)]
    runner = make_runner(_config(), port_lister=_lister(ports))
    assert await runner.resolve_port() == "/dev/ttyUSB3"


async def test_no_matching_usb_port_is_port_missing() -> None:
    runner = make_runner(_config(usb_vid_pid="067b:2303"), port_lister=_lister([]))
    with pytest.raises(PortMissingError, match="067b:2303"):
        await runner.resolve_port()


async def test_several_matching_usb_ports_ask_for_an_explicit_port() -> None:
    ports = [PortInfo("/dev/ttyUSB0", 0x067B, 0x2303), PortInfo("/dev/ttyUSB1", 0x067B, 0x2303)]
    runner = make_runner(_config(), port_lister=_lister(ports))
    with pytest.raises(PortMissingError, match="by-id"):
        await runner.resolve_port()


async def test_url_ports_are_not_checked_on_disk() -> None:
    runner = make_runner(_config(port="socket://127.0.0.1:7000"))
    assert await runner.resolve_port() == "socket://127.0.0.1:7000"


async def test_symlinked_port_counts_as_missing_when_dangling(tmp_path: Any) -> None:
    link = tmp_path / "usb-LifeScan_USB_cable-if00-port0"
    os.symlink(tmp_path / "ttyUSB9", link)
    runner = make_runner(_config(port=str(link)))
    with pytest.raises(PortMissingError):
        await runner.resolve_port()
