from __future__ import annotations

import argparse
import asyncio
import re

import pytest

from drivers.errors import DecodeError, UsageError
from drivers.serial import onetouch_ultra2 as ultra2
from drivers.serial.decode_stream import decode_stream, read_stream_input
from drivers.serial.link import LineSettings, open_link
from simulators.serial import cli
from simulators.serial.registry import load_simulator, register_simulator, simulator_names


def test_decode_stream_ultra2_from_hex_text() -> None:
    line = b'@ "ZW123456Y" 02E3\r\n'
    hex_text = " ".join(f"{b:02x}" for b in line).encode() + b"\n"
    assert decode_stream("ultra2", read_stream_input(hex_text)) == [
        {"type": "serial", "serial": "ZW123456Y", "offset": 0}
    ]


def test_decode_stream_ultraeasy_error_names_offset_and_reason() -> None:
    stream = read_stream_input(b"02 06 08 03 c2 62  02 06 0c 03 06 af")
    with pytest.raises(DecodeError) as caught:
        decode_stream("onetouch-ultraeasy", stream)
    assert (caught.value.offset, caught.value.reason) == (10, "CRC af06 != computed ae06")


def test_simulators_are_registered_for_both_families() -> None:
    assert {"onetouch-ultra2", "onetouch-ultraeasy"} <= set(simulator_names())
    assert callable(load_simulator("onetouch-ultramini"))
    with pytest.raises(UsageError):
        register_simulator("ultra2", "simulators.serial.onetouch_ultra2:make_simulator")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


async def test_simulate_cli_serves_until_cancelled(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(cli.run(_args("--protocol", "ultra2", "--records", "3")),
                               name="test-simulate-cli")
    path = None
    for _ in range(100):
        await asyncio.sleep(0.01)
        match = re.search(r"on (\S+) \(3 records\)", capsys.readouterr().out)
        if match:
            path = match.group(1)
            break
    assert path is not None
    link = await open_link(path, LineSettings())
    try:
        await link.write(ultra2.encode_command(ultra2.Command(ultra2.CMD_DUMP)))
        header = ultra2.decode_dump_header(await link.read_until(b"\r", 2.0))
        assert header.count == 3
    finally:
        link.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_simulate_cli_rejects_negative_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli.run(_args("--protocol", "onetouch-ultraeasy", "--records", "-1")) == 2
    assert "--records" in capsys.readouterr().out
