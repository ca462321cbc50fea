from __future__ import annotations

from simulators.serial.pty import PtyMeter


class EchoMeter(PtyMeter):
    """Answers every chunk with its upper-case copy (enough to exercise link and pty)."""

    def handle(self, data: bytes) -> bytes | None:
        return data.upper()

    def reset_link_state(self) -> None:
        pass
