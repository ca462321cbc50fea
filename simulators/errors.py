"""Exception root for the simulators package."""

from __future__ import annotations


class SimulatorError(Exception):
    """Root of all simulator errors."""


class SimulatorConfigError(SimulatorError, ValueError):
    """A simulated device's options or scenario file are wrong; the message says what to fix.

    A ValueError too: the gateway's config loader turns a device check's ValueError into its
    own ConfigError (naming `devices[i]`) without knowing the simulators.
    """
