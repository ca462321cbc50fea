"""Exception root for the gateway package."""

from __future__ import annotations

from core.errors import CoreError


class GatewayError(CoreError):
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
