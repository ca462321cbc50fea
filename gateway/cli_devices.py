"""Device-side commands: decode, simulate, replay, devices scan/pair (drivers/ + simulators/)."""

from __future__ import annotations

import argparse
from typing import Any


def add_device_commands(sub: Any) -> None:
    """Register the device commands on the `gempita` sub-parser set."""
    _ = (sub, argparse)
