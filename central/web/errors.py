"""Errors of central's web app and of the account commands that feed it."""

from __future__ import annotations

from central.errors import CentralError


class WebError(CentralError):
    """Root of the web app's errors."""


class AccountError(WebError):
    """An account cannot be made or changed as asked; the message says what to fix."""
