"""Whether this machine's clock is disciplined, as the kernel says (adjtimex(2)).

A Raspberry Pi has no battery clock: after a boot without network it runs from the time
fake-hwclock saved at the last shutdown, hours or days behind, until NTP (timesyncd, chrony,
ntpd) steps it. Every such daemon clears the kernel's STA_UNSYNC flag once it has synchronised,
so asking the kernel covers them all and needs no daemon-specific file or D-Bus call.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

# adjtimex(2) answers TIME_ERROR (5) while the clock is not synchronised (STA_UNSYNC).
_TIME_ERROR = 5
# struct timex is ~200 bytes on 64-bit Linux and less on 32-bit: a zeroed buffer larger than
# either, with modes 0 (its first field), only reads the state.
_TIMEX_BYTES = 512

# None: the platform cannot say (not Linux, or the call failed), which is not "untrusted".
ClockProbe = Callable[[], bool | None]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # dlopen(NULL): the running interpreter's own symbols, libc among them. Not
    # ctypes.util.find_library, which runs ldconfig in a subprocess (and this is called on
    # the event loop, with every status).
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        _LOGGER.debug("libc not loadable: %s", exc)
        return None


def kernel_clock_synced() -> bool | None:
    libc = _libc()
    if libc is None:
        return None
    try:
        state = int(libc.adjtimex(ctypes.create_string_buffer(_TIMEX_BYTES)))
    except AttributeError:  # no adjtimex: not Linux
        return None
    if state < 0:
        _LOGGER.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return None
    return state != _TIME_ERROR


def clock_status(probe: ClockProbe) -> dict[str, object]:
    """The status topic's `clock` object."""
    return {"trusted": probe(), "source": "kernel"}
