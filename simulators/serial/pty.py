"""A meter on a pseudo-terminal: the gateway opens `PtyMeter.path` with real pyserial.

The simulator owns the pty master. Incoming bytes are handed, as they arrive, to the protocol
simulator's `handle` (subclasses buffer and frame them with the same codec the driver uses); each
non-empty reply goes through the fault hooks and a named writer task to the master. Faults are
counted per reply so tests are deterministic:

* ``corrupt_replies`` — these replies get a wrong checksum (`PtyMeter.corrupt`);
* ``noise_before`` — these replies are preceded by ``noise`` bytes;
* ``drop_replies`` — these replies are never sent (the host sees silence);
* ``reply_delay_s`` / ``slow_replies`` — wait before sending (every reply, or just these);
* ``unplug_after_bytes`` — after this many reply bytes in total, the master is closed in the
  middle of whatever is being sent (a pulled cable: the host sees ``SerialException``/``EIO``).

Empty and full memory are states of the protocol simulators' record memory, not link faults.

Facts this relies on (PLATFORM.md): bytes written before the host opens the port are flushed by
pyserial's open, so a simulator must only ever answer; and the slave fd is kept open here so the
master never reads EIO merely because the host has not opened the port yet.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tty
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Self

from core.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PtyFaults:
    corrupt_replies: frozenset[int] = frozenset()
    noise_before: frozenset[int] = frozenset()
    noise: bytes = b"\x00\xfe\x15\x7f"
    drop_replies: frozenset[int] = frozenset()
    reply_delay_s: float = 0.0
    slow_replies: frozenset[int] = frozenset()
    slow_delay_s: float = 0.5
    unplug_after_bytes: int | None = None


@dataclass(slots=True)
class PtyStats:
    replies: int = 0  # replies produced by `handle` (including dropped ones)
    bytes_sent: int = 0
    received: bytearray = field(default_factory=bytearray)
    unplugged: bool = False


class PtyMeter(ABC):
    """Base of pty-hosted meter simulators. Subclasses implement `handle` (and `corrupt`)."""

    def __init__(self, *, faults: PtyFaults | None = None, name: str = "meter") -> None:
        self.faults = faults or PtyFaults()
        self.name = name
        self.stats = PtyStats()
        self._master: int | None = None
        self._slave: int | None = None
        self._path: str | None = None
        self._outgoing: asyncio.Queue[tuple[int, bytes]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- what protocol simulators implement --------------------------------------------------

    @abstractmethod
    def handle(self, data: bytes) -> bytes | None:
        """Bytes just received from the host -> the reply to send now (or None)."""

    def corrupt(self, reply: bytes) -> bytes:
        """The same reply with a wrong checksum. The default flips the last byte's low bit;
        protocols whose checksum is not the last byte override this."""
        if not reply:
            return reply
        return reply[:-1] + bytes([reply[-1] ^ 0x01])

    @abstractmethod
    def reset_link_state(self) -> None:
        """Called on (re)start: forget half-received requests (a re-plugged meter has none)."""

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        if self._path is None:
            raise RuntimeError("simulator not started")
        return self._path

    @property
    def running(self) -> bool:
        return self._master is not None

    async def start(self) -> None:
        """Open a fresh pty (a new path every time: a re-plugged cable)."""
        if self._master is not None:
            raise RuntimeError("simulator already running")
        await self._stop_writer()  # left over from an unplug without stop()
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._path = os.ttyname(slave)
        self.stats.unplugged = False
        self.reset_link_state()
        self._outgoing = asyncio.Queue()
        self._loop.add_reader(master, self._on_readable)
        self._writer = self._loop.create_task(self._write_loop(), name=f"pty-writer:{self.name}")
        _LOGGER.debug("simulator %s on %s", self.name, self._path)

    def unplug(self) -> None:
        """Pull the cable now: close the pty (the host's next read fails)."""
        self.stats.unplugged = True
        self._close_fds()

    async def stop(self) -> None:
        self._close_fds()
        await self._stop_writer()

    async def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            await cancel_and_wait(writer)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def send(self, data: bytes) -> None:
        """Queue bytes to the host outside the request/response flow (no faults applied)."""
        if self._outgoing is not None and data:
            self._outgoing.put_nowait((-1, data))

    # -- internals ------------------------------------------------------------------------------

    def _close_fds(self) -> None:
        master, self._master = self._master, None
        slave, self._slave = self._slave, None
        if master is not None:
            if self._loop is not None:
                self._loop.remove_reader(master)
                self._loop.remove_writer(master)
            os.close(master)
        if slave is not None:
            os.close(slave)

    def _on_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            _LOGGER.debug("simulator %s: read failed: %s", self.name, exc)
            return
        if not data:
            return
        self.stats.received.extend(data)
        reply = self.handle(data)
        if reply and self._outgoing is not None:
            number = self.stats.replies
            self.stats.replies += 1
            self._outgoing.put_nowait((number, reply))

    def _shape(self, number: int, reply: bytes) -> bytes | None:
        faults = self.faults
        if number in faults.drop_replies:
            return None
        if number in faults.corrupt_replies:
            reply = self.corrupt(reply)
        if number in faults.noise_before:
            reply = faults.noise + reply
        return reply

    async def _write_loop(self) -> None:
        outgoing = self._outgoing
        if outgoing is None:
            return
        while True:
            number, reply = await outgoing.get()
            shaped = self._shape(number, reply) if number >= 0 else reply
            if shaped is None:
                continue
            delay = self.faults.reply_delay_s
            if number in self.faults.slow_replies:
                delay += self.faults.slow_delay_s
            if delay > 0:
                await asyncio.sleep(delay)
            await self._write(shaped)

    async def _write(self, data: bytes) -> None:
        limit = self.faults.unplug_after_bytes
        cut = limit is not None and self.stats.bytes_sent + len(data) >= limit
        if limit is not None and cut:
            data = data[: max(0, limit - self.stats.bytes_sent)]
        view = memoryview(data)
        while view and self._master is not None:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                await asyncio.sleep(0.005)
                continue
            except OSError as exc:
                _LOGGER.debug("simulator %s: write failed: %s", self.name, exc)
                return
            self.stats.bytes_sent += written
            view = view[written:]
        if cut:
            # Let the host's reader take the partial reply before the "cable" goes.
            await asyncio.sleep(0.05)
            self.unplug()
