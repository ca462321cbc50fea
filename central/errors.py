"""Exception root for central: the service, its store, its configuration and FHIR output."""

from __future__ import annotations

from core.errors import CoreError


class CentralError(CoreError):
    """Root of all central errors."""


class CentralConfigError(CentralError):
    """Central's configuration is wrong; the message names the key or file and what to change."""
