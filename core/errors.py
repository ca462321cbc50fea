"""Exception root for the shared core: errors of the MQTT adapter and the payload contract."""

from __future__ import annotations


class CoreError(Exception):
    """Root of all core errors; the gateway's root derives from it."""


class PublishError(CoreError):
    """Publishing to the broker failed."""


class BrokerRefusedError(PublishError):
    """The broker refused the connection or a message (MQTT reason code >= 0x80)."""

    def __init__(self, reason_code: int, reason: str, what: str) -> None:
        self.reason_code = reason_code
        self.reason = reason
        super().__init__(f"broker refused {what}: 0x{reason_code:02X} {reason}")


class PayloadError(CoreError):
    """A peer sent a payload that breaks the MQTT contract (broker/TOPICS.md).

    The reason names the field and the rule, never the field's value: a payload may carry
    personal data and reasons are logged and stored.
    """
