"""Bonding with a BLE meter for `gempita devices pair ADDRESS [--passkey PIN]`.

- Without a passkey: "Just Works" bonding through bleak (`BleakClient.pair()`), for the
  Contour Next One, A&D UA-651BLE in "Pr" mode, i-SENS. BlueZ keeps the bond; later sessions
  find the device already paired.
- With a passkey on the default (BlueZ) backend: bleak registers no pairing agent, so a
  `PairingAgent` (drivers/ble/agent.py) is registered as BlueZ's default agent around the
  connect-and-pair step and answers BlueZ's passkey request with the PIN the meter shows
  (Roche Accu-Chek). Step by step, with troubleshooting: drivers/ble/PAIRING.md.
- With a passkey on a simulated backend that declares `supports_passkey = True`, the backend
  takes the passkey directly (tests, demo).
- Any other backend cannot be given a passkey: refused with UsageError rather than pretending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from drivers.ble.agent import AgentLog, PairingAgent, check_pin
from drivers.ble.link import BleLink, ConnectPolicy, open_link
from drivers.errors import DeviceSessionError, UsageError

_LOGGER = logging.getLogger(__name__)

BLUETOOTHCTL_ADVICE = (
    "this Bluetooth backend cannot take a passkey: pair once with bluetoothctl "
    "(`agent KeyboardDisplay`, `default-agent`, `pair {address}`, type the PIN shown on the "
    "meter, `trust {address}`), then the gateway finds the bond"
)


@dataclass(frozen=True, slots=True)
class PairResult:
    address: str
    name: str
    bonded: bool
    passkey_used: bool


def backend_takes_passkey(client_backend: type[BaseBleakClient] | None) -> bool:
    return bool(getattr(client_backend, "supports_passkey", False))


def _failure_hint(passkey: str | None, agent_log: AgentLog | None, error: str) -> str:
    """What the operator should do after a refused bond, from what BlueZ asked the agent."""
    if passkey is None:
        return "Put the meter in pairing mode; if it shows a PIN, pair again with `--passkey PIN`"
    if agent_log is None:
        return "Put the meter in pairing mode and check the PIN it shows"
    if agent_log.rejections:
        return f"The pairing agent refused: {'; '.join(agent_log.rejections)}. Check the PIN"
    # bluetoothd's Cancel to the agent and its error reply to bleak travel on two connections,
    # so the Cancel may not have arrived yet: the error name says it too.
    if agent_log.cancelled or "AuthenticationCanceled" in error:
        return (
            "BlueZ cancelled the passkey exchange (the meter left pairing mode or timed out): "
            "put it in pairing mode again and retry at once"
        )
    if agent_log.secret_given:
        return "The meter refused the PIN: type exactly the digits it shows now"
    return (
        "BlueZ never asked for the PIN: the meter may not be in pairing mode, or it still holds "
        "a bond with another phone or gateway (clear it on the meter; on this gateway "
        "`bluetoothctl remove ADDRESS`)"
    )


async def bond(
    link: BleLink,
    *,
    passkey: str | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    agent: PairingAgent | None = None,
) -> bool:
    """Bond on an open link. Returns True when the passkey was handed over.

    A passkey goes to the backend when it takes one (simulated), else to BlueZ through the
    registered `agent`; with neither, UsageError with the bluetoothctl procedure. A refused
    bond raises DeviceSessionError (from the link) with a hint.
    """
    direct = passkey is not None and backend_takes_passkey(client_backend)
    if passkey is not None and not direct and agent is None:
        raise UsageError(BLUETOOTHCTL_ADVICE.format(address=link.address))
    try:
        if direct:
            await link.pair(passkey=passkey)
        else:
            await link.pair()
    except DeviceSessionError as exc:
        hint = _failure_hint(passkey, agent.log if agent is not None else None, str(exc))
        raise DeviceSessionError(f"{link.name}: bonding failed ({exc}). {hint}") from exc
    if direct:
        return True
    # With the agent: only if BlueZ asked (an existing bond makes bleak skip Pair altogether).
    return agent is not None and agent.log.secret_given


async def pair(
    address: str,
    *,
    passkey: str | None = None,
    policy: ConnectPolicy | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    scanner_backend: type[BaseBleakScanner] | None = None,
    bus_address: str | None = None,
    agent_capability: str = "KeyboardDisplay",
) -> PairResult:
    """Connect to `address` and bond (for `gempita devices pair`).

    With a passkey and the default BlueZ backend (`client_backend is None`), a pairing agent
    on `bus_address` (default: the system bus) answers BlueZ for the whole connect-and-pair.
    Raises DeviceUnavailableError without a Bluetooth stack (no D-Bus, no bluetoothd, no
    permission), UsageError for a malformed address/PIN or a passkey the backend cannot take,
    DeviceSessionError when the device is absent or refuses.
    """
    if passkey is not None:
        check_pin(passkey)
    # The agent answers BlueZ: needed for the default backend, or for any backend that pairs
    # through bluetoothd on an explicitly given bus (a kiosk's page, the agent's tests).
    through_bluez = client_backend is None or (
        bus_address is not None and not backend_takes_passkey(client_backend)
    )
    if passkey is None or not through_bluez:
        return await _connect_and_bond(
            address, passkey, policy, client_backend, scanner_backend, agent=None
        )
    async with PairingAgent(
        passkey, device_address=address, bus_address=bus_address, capability=agent_capability
    ) as agent:
        return await _connect_and_bond(
            address, passkey, policy, client_backend, scanner_backend, agent=agent
        )


async def _connect_and_bond(
    address: str,
    passkey: str | None,
    policy: ConnectPolicy | None,
    client_backend: type[BaseBleakClient] | None,
    scanner_backend: type[BaseBleakScanner] | None,
    *,
    agent: PairingAgent | None,
) -> PairResult:
    link = await open_link(
        address,
        address=address,
        policy=policy,
        client_backend=client_backend,
        scanner_backend=scanner_backend,
    )
    try:
        used = await bond(link, passkey=passkey, client_backend=client_backend, agent=agent)
        _LOGGER.info("%s: bonded", address)
        return PairResult(link.address, link.device_name, True, used)
    finally:
        await link.close()
