"""An asyncio byte pipe over a pyserial port. It moves bytes; it never interprets a payload.

Why readiness callbacks rather than a thread executor: a blocking ``read()`` parked in a worker
thread cannot be cancelled, so a session cancelled by the gateway (shutdown, unplug) would keep
the port busy until the read's own timeout, and every session would cost a thread. Instead the
port is opened with ``timeout=0`` (pyserial then never blocks) and ``loop.add_reader`` on the
port's file descriptor drains whatever arrives into a buffer; ``read``/``read_until`` only wait on
that buffer, so ``asyncio.timeout`` and cancellation act immediately. The same callback notices a
pulled cable at once (the fd becomes readable and reading fails), even between requests.

``loop://`` ports have no file descriptor (pyserial keeps them in a queue in memory); for those
the same drain runs from a short polling task. Nothing here ever blocks the event loop: reads are
non-blocking, and writes wait for writability (``add_writer``) before a non-blocking write, so a
full output buffer suspends the coroutine instead of spinning.

pyserial raises ``SerialException`` when the far end of a pty or a USB adapter disappears, but
its ``in_waiting`` raises a raw ``OSError(EIO)``; both become `LinkLostError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable
from typing import Any

import serial

from drivers.errors import UsageError
from drivers.serial.errors import LinkLostError, LinkTimeoutError, PortMissingError
from drivers.serial.line_settings import LineSettings

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "LineSettings",
    "LinkLostError",
    "LinkTimeoutError",
    "PortMissingError",
    "SerialLink",
    "open_link",
]

_POLL_INTERVAL_S = 0.01
_DRAIN_CHUNK = 4096


PortOpener = Callable[..., Any]


async def open_link(
    url: str,
    settings: LineSettings,
    *,
    name: str | None = None,
    opener: PortOpener | None = None,
) -> SerialLink:
    """Open `url` (a device path, ``/dev/serial/by-id/...``, ``socket://``, ``loop://``).

    The open itself runs in a worker thread: ``socket://`` connects synchronously and some USB
    adapters take a moment to answer the termios calls. A missing port raises
    `PortMissingError` at once so the supervisor backs off and tries again after a re-plug.
    """
    open_port = opener or serial.serial_for_url

    def _open() -> Any:
        return open_port(
            url,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=settings.parity,
            stopbits=settings.stopbits,
            rtscts=settings.rtscts,
            xonxoff=settings.xonxoff,
            timeout=0,
            exclusive=True,
        )

    try:
        port = await asyncio.to_thread(_open)
    except serial.SerialException as exc:
        cause = exc.__context__ if isinstance(exc.__context__, OSError) else None
        missing = getattr(exc, "errno", None) == errno.ENOENT or (
            cause is not None and cause.errno == errno.ENOENT
        )
        if missing:
            raise PortMissingError(
                f"serial port {url} does not exist: plug the meter cable in"
            ) from exc
        raise LinkLostError(f"cannot open serial port {url}: {exc}") from exc
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise PortMissingError(
                f"serial port {url} does not exist: plug the meter cable in"
            ) from exc
        raise LinkLostError(f"cannot open serial port {url}: {exc}") from exc
    return SerialLink(port, name=name or url)


class SerialLink:
    """Buffered, non-blocking access to an open pyserial port (``timeout=0``)."""

    def __init__(self, port: Any, *, name: str, poll_interval: float = _POLL_INTERVAL_S) -> None:
        self._port = port
        self._name = name
        self._poll_interval = poll_interval
        self._buffer = bytearray()
        self._changed = asyncio.Event()
        self._lost: LinkLostError | None = None
        self._closed = False
        self._busy = False
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = _fileno(port)
        self._poller: asyncio.Task[None] | None = None
        port.timeout = 0
        if self._fd is not None:
            port.write_timeout = 0
            self._loop.add_reader(self._fd, self._drain)
        else:
            # loop:// writes into an in-memory queue and treats a 0 write timeout as "too slow".
            port.write_timeout = None
            self._poller = self._loop.create_task(self._poll(), name=f"serial-poll:{name}")

    @property
    def name(self) -> str:
        return self._name

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def buffered(self) -> bytes:
        """Bytes received but not yet consumed (for resync and diagnostics)."""
        return bytes(self._buffer)

    def discard_input(self) -> bytes:
        """Drop everything received so far (resync after garbage); returns what was dropped."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    # The timeout is a parameter (ASYNC109) on purpose: expiry must become a typed
    # LinkTimeoutError that says how many bytes did arrive, which a caller's
    # asyncio.timeout() cannot report; the shared link interface is read(n, timeout).
    async def read(self, n: int, timeout: float) -> bytes:  # noqa: ASYNC109
        """Exactly `n` bytes, or `LinkTimeoutError` (the partial bytes stay buffered)."""
        if n <= 0:
            raise UsageError("read needs a positive byte count")
        await self._wait_for(lambda: n if len(self._buffer) >= n else None, timeout, f"{n} bytes")
        return self._take(n)

    async def peek(self, n: int, timeout: float) -> bytes:  # noqa: ASYNC109 - see read()
        """Wait until at least `n` bytes are buffered and return all of them, consuming none.

        For framers that must see a whole frame before deciding how much to take.
        """
        if n <= 0:
            raise UsageError("peek needs a positive byte count")
        await self._wait_for(lambda: n if len(self._buffer) >= n else None, timeout, f"{n} bytes")
        return bytes(self._buffer)

    async def read_until(self, terminator: bytes, timeout: float) -> bytes:  # noqa: ASYNC109
        """Everything up to and including `terminator`."""
        if not terminator:
            raise UsageError("read_until needs a non-empty terminator")

        def _end() -> int | None:
            at = self._buffer.find(terminator)
            return None if at < 0 else at + len(terminator)

        size = await self._wait_for(_end, timeout, f"terminator {terminator!r}")
        return self._take(size)

    async def drain(self, quiet_s: float, limit_s: float) -> bytes:
        """Resync: drop input until the line has been quiet for `quiet_s` (at most `limit_s`).

        Used after garbage or a bad checksum while the meter may still be sending the rest of
        a reply. Returns everything dropped. A lost link is not raised here; the next
        read/write reports it.
        """
        dropped = bytearray(self.discard_input())
        loop = self._loop
        deadline = loop.time() + limit_s
        while not self._closed and self._lost is None and loop.time() < deadline:
            self._changed.clear()
            try:
                async with asyncio.timeout(min(quiet_s, max(0.0, deadline - loop.time()))):
                    await self._changed.wait()
            except TimeoutError:
                break
            dropped.extend(self.discard_input())
        dropped.extend(self.discard_input())
        return bytes(dropped)

    async def write(self, data: bytes) -> None:
        self._check_open()
        view = memoryview(data)
        while view:
            if self._fd is not None:
                await self._writable(self._fd)
            try:
                written = self._port.write(view)
            except (serial.SerialException, OSError) as exc:
                self._mark_lost(exc)
                raise self._lost_error() from exc
            if self._fd is None:
                return  # loop:// takes everything at once
            view = view[written or 0 :]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        if self._poller is not None:
            self._poller.cancel()
        try:
            self._port.close()
        except (serial.SerialException, OSError) as exc:
            # Closing a port whose device vanished can fail; the handle is gone either way.
            _LOGGER.debug("closing %s failed: %s", self._name, exc)
        self._changed.set()

    async def __aenter__(self) -> SerialLink:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _drain(self) -> None:
        if self._closed or self._lost is not None:
            return
        try:
            waiting = self._port.in_waiting
            chunk = self._port.read(min(max(waiting, 1), _DRAIN_CHUNK))
        except (serial.SerialException, OSError) as exc:
            self._mark_lost(exc)
            return
        if chunk:
            self._buffer.extend(chunk)
            self._changed.set()

    async def _poll(self) -> None:
        while not self._closed and self._lost is None:
            self._drain()
            await asyncio.sleep(self._poll_interval)

    def _mark_lost(self, exc: BaseException) -> None:
        if self._lost is not None:
            return
        _LOGGER.info("serial link %s lost: %s", self._name, exc)
        self._lost = LinkLostError(f"serial link {self._name} lost: {exc}")
        self._lost.__cause__ = exc
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._changed.set()

    def _lost_error(self) -> LinkLostError:
        lost = self._lost or LinkLostError(f"serial link {self._name} lost")
        return LinkLostError(str(lost))

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"serial link {self._name} is closed")
        if self._lost is not None:
            raise self._lost_error() from self._lost

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def _wait_for(
        self, ready: Callable[[], int | None], limit_s: float, what: str
    ) -> int:
        if self._busy:
            raise UsageError(f"two concurrent reads on serial link {self._name}")
        self._busy = True
        try:
            async with asyncio.timeout(limit_s):
                while True:
                    size = ready()
                    if size is not None:
                        return size
                    self._check_open()
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError as exc:
            raise LinkTimeoutError(
                f"no {what} from {self._name} within {limit_s:g} s "
                f"({len(self._buffer)} bytes pending)"
            ) from exc
        finally:
            self._busy = False

    async def _writable(self, fd: int) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()

        def _ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        self._loop.add_writer(fd, _ready)
        try:
            await waiter
        finally:
            with contextlib.suppress(OSError, ValueError):
                self._loop.remove_writer(fd)


def _fileno(port: Any) -> int | None:
    try:
        fd = port.fileno()
    except (AttributeError, serial.SerialException, OSError, ValueError):
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None
