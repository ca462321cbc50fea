"""Exception root for the gateway package."""

from __future__ import annotations


class GatewayError(Exception):
    """Root of all gateway errors."""


class ConfigError(GatewayError):
    """The configuration is wrong; the message names the key or file and what to change."""


class OutboxError(GatewayError):
    """The outbox could not do what was asked. Committed readings are never affected."""


class OutboxFullError(OutboxError):
    """The outbox holds its configured maximum of unconfirmed readings; new ones are refused."""


class OutboxStorageFullError(OutboxError):
    """The disk (or the configured database size cap) is full."""


class OutboxCorruptError(OutboxError):
    """The database file is not a valid SQLite database or is damaged."""


class OutboxLockedError(OutboxError):
    """Another process holds the database locked."""


class OutboxClosedError(OutboxError):
    """The outbox was used after close()."""


class PublishError(GatewayError):
    """Publishing to the broker failed."""


class BrokerRefusedError(PublishError):
    """The broker refused the connection or a message (MQTT reason code >= 0x80)."""

    def __init__(self, reason_code: int, reason: str, what: str) -> None:
        self.reason_code = reason_code
        self.reason = reason
        super().__init__(f"broker refused {what}: 0x{reason_code:02X} {reason}")


class PayloadError(GatewayError):
    """A peer sent a payload that breaks the MQTT contract (broker/TOPICS.md).

    The reason names the field and the rule, never the field's value: a payload may carry
    personal data and reasons are logged and stored.
    """
