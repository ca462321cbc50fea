"""The running demo's control socket: `gempita demo measure` hands it a chosen reading.

One JSON line each way over a Unix socket in the demo's state directory, mode 0600: only the
user who runs the demo may put readings into its meters. The codec (`encode_*`/`decode_*`) is
pure; `serve` (in the demo's event loop) and `ask` (the command line, blocking) move its lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.ble.resident import Chosen, ChosenBp, ChosenGlucose, Placed

_LOGGER = logging.getLogger(__name__)

SOCKET_NAME = "demo.sock"
MAX_LINE = 4096  # a request is ~100 bytes; anything longer is not ours
READ_TIMEOUT_S = 5.0


class DemoSocketError(Exception):
    """Root of this module's errors."""


class MalformedMessageError(DemoSocketError):
    """The peer sent something that is not one of our messages."""

    def __init__(self, data: bytes, reason: str) -> None:
        super().__init__(f"{reason}: {data[:80]!r}")
        self.data = data
        self.reason = reason


class DemoNotRunningError(DemoSocketError):
    """Nobody listens on the socket: the demo is not running (with this state directory)."""


class SocketInUseError(DemoSocketError):
    """Another running demo already listens on this state directory's socket."""


@dataclass(frozen=True, slots=True)
class MeasureRequest:
    chosen: Chosen
    at_kiosk: bool = False  # hold it for the kiosk's next "measure" request


@dataclass(frozen=True, slots=True)
class MeasureReply:
    placed: Placed | None = None
    error: str | None = None  # "no_meter", "malformed"
    detail: str | None = None


def socket_path(state_dir: str | Path) -> Path:
    return Path(state_dir).resolve() / SOCKET_NAME


# --- codec -----------------------------------------------------------------------------------


def encode_request(request: MeasureRequest) -> bytes:
    chosen = request.chosen
    body: dict[str, Any]
    if isinstance(chosen, ChosenBp):
        body = {"kind": "blood_pressure", "systolic": chosen.systolic,
                "diastolic": chosen.diastolic, "pulse": chosen.pulse}
    else:
        body = {"kind": "glucose", "mgdl": chosen.mgdl, "hi": chosen.hi, "lo": chosen.lo,
                "fasting": chosen.fasting, "control_solution": chosen.control_solution}
    body["at_kiosk"] = request.at_kiosk
    return json.dumps(body, sort_keys=True).encode() + b"\n"


def _load(line: bytes) -> dict[str, Any]:
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessageError(line, "not a JSON line") from exc
    if not isinstance(body, dict):
        raise MalformedMessageError(line, "not a JSON object")
    return body


def _number(body: dict[str, Any], key: str, line: bytes) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedMessageError(line, f"{key} must be a number")
    return float(value)


def _optional_number(body: dict[str, Any], key: str, line: bytes) -> float | None:
    return None if body.get(key) is None else _number(body, key, line)


def _flag(body: dict[str, Any], key: str, line: bytes) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise MalformedMessageError(line, f"{key} must be true or false")
    return value


def decode_request(line: bytes) -> MeasureRequest:
    body = _load(line)
    kind = body.get("kind")
    try:
        chosen: Chosen
        if kind == "blood_pressure":
            chosen = ChosenBp(
                _number(body, "systolic", line),
                _number(body, "diastolic", line),
                _optional_number(body, "pulse", line),
            )
        elif kind == "glucose":
            chosen = ChosenGlucose(
                mgdl=_optional_number(body, "mgdl", line),
                hi=_flag(body, "hi", line),
                lo=_flag(body, "lo", line),
                fasting=_flag(body, "fasting", line),
                control_solution=_flag(body, "control_solution", line),
            )
        else:
            raise MalformedMessageError(line, "kind must be blood_pressure or glucose")
    except ValueError as exc:
        raise MalformedMessageError(line, str(exc)) from exc
    return MeasureRequest(chosen, at_kiosk=_flag(body, "at_kiosk", line))


def encode_reply(reply: MeasureReply) -> bytes:
    body = {"placed": None if reply.placed is None else reply.placed.value,
            "error": reply.error, "detail": reply.detail}
    return json.dumps(body, sort_keys=True).encode() + b"\n"


def decode_reply(line: bytes) -> MeasureReply:
    body = _load(line)
    placed, error, detail = body.get("placed"), body.get("error"), body.get("detail")
    if placed is not None:
        try:
            return MeasureReply(placed=Placed(placed))
        except ValueError as exc:
            raise MalformedMessageError(line, "unknown placement") from exc
    if not isinstance(error, str) or not isinstance(detail, str | None):
        raise MalformedMessageError(line, "neither a placement nor an error")
    return MeasureReply(error=error, detail=detail)


# --- transport -------------------------------------------------------------------------------


Handler = Callable[[MeasureRequest], MeasureReply]


async def serve(path: Path, handle: Handler) -> None:
    """Answer requests on `path` until cancelled; the socket file is removed at the end.

    Call `claim_socket` first, before anything else starts, so a clash fails cleanly.
    """
    server = await asyncio.start_unix_server(
        lambda r, w: _connection(r, w, handle), path=str(path), limit=MAX_LINE
    )
    try:
        os.chmod(path, 0o600)
        async with server:
            await server.serve_forever()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # one local syscall at shutdown: fine on the loop


def claim_socket(path: Path) -> None:
    """Remove a socket left by a demo that died; refuse to steal a live demo's."""
    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()
            return
    raise SocketInUseError(f"another demo is running with this state directory ({path})")


async def _connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: Handler
) -> None:
    try:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                line = await reader.readline()
            reply = handle(decode_request(line))
        except MalformedMessageError as exc:
            _LOGGER.warning("demo socket: malformed request (%s)", exc.reason)
            reply = MeasureReply(error="malformed", detail=exc.reason)
        except (TimeoutError, ValueError, ConnectionError) as exc:
            # ValueError: a line over the limit. Nobody is there to answer: just hang up.
            _LOGGER.warning("demo socket: request not read (%s)", type(exc).__name__)
            return
        writer.write(encode_reply(reply))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def ask(path: Path, request: MeasureRequest, timeout_s: float = 10.0) -> MeasureReply:
    """Send one request to the running demo and return its reply (blocking, for the CLI)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DemoNotRunningError(str(path)) from exc
        sock.sendall(encode_request(request))
        data = b""
        while not data.endswith(b"\n") and len(data) <= MAX_LINE:
            chunk = sock.recv(MAX_LINE)
            if not chunk:
                break
            data += chunk
    if not data:
        raise MalformedMessageError(data, "the demo hung up without answering")
    return decode_reply(data)
