"""The BLE device runner: one `run_once` = one connection session with one meter.

`make_runner(config)` is what the gateway's supervisor calls (gateway/transports.py). A
session: find and connect the device, pick the profile (config.kind, else the services it
exposes: 0x1810 blood pressure, 0x1808 glucose), bond where the profile or quirk needs it, read
DIS for the identity, match the quirk family (or use config.quirk), then run the BP or glucose
session, which commits through `ctx.sink`. Failures raise; the supervisor retries.

`config.options` (all optional):
- "backend": a bleak client backend class, or an object with `client_backend()` and
  `scanner_backend()` (a simulated `Air`); "scanner_backend": a scanner backend class.
- "connect_policy": a `ConnectPolicy` (tests shrink its timeouts and backoff).
- "record": a path; the session's link traffic is written there as a capture (JSON Lines).
  An existing directory gets one file per session (`<device>-<UTC time>.jsonl`).
- "site_tz": IANA zone of the device clock. The config loader sets it from gateway.timezone
  unless the device overrides it (gateway.config.with_site_timezone); Asia/Makassar (WITA)
  only when a runner is built without a gateway config.
- "passkey": for meters that show a PIN (only backends that take one; see drivers.ble.pair).
- "bond": force bonding for a BP monitor; "write_clock": write 0x2A08 on a standard monitor.
- "bp": `BpOptions`; "glucose": `GlucoseOptions`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from core.clock import DEFAULT_SITE_TZ
from core.devices import DeviceConfig, DeviceContext, DeviceRunner
from core.events import DeviceState
from core.reading import DeviceIdentity, Kind, Transport
from drivers.ble import uuids
from drivers.ble.dis import DeviceInformation, decode_dis_string
from drivers.ble.link import BleLink, ConnectPolicy, open_link
from drivers.ble.pair import backend_takes_passkey, bond
from drivers.ble.quirks import Quirk, match_quirk, quirk_by_name
from drivers.ble.session_bp import BpOptions, BpSession
from drivers.ble.session_glucose import GlucoseOptions, GlucoseSession
from drivers.ble.time_correction import TimeCorrector
from drivers.errors import DeviceSessionError, UsageError

if TYPE_CHECKING:
    from drivers.ble.capture import CaptureRecorder

_LOGGER = logging.getLogger(__name__)

_DIS_FIELDS = {
    "manufacturer": uuids.MANUFACTURER_NAME_STRING,
    "model": uuids.MODEL_NUMBER_STRING,
    "serial": uuids.SERIAL_NUMBER_STRING,
    "firmware_revision": uuids.FIRMWARE_REVISION_STRING,
    "hardware_revision": uuids.HARDWARE_REVISION_STRING,
    "software_revision": uuids.SOFTWARE_REVISION_STRING,
}


def resolve_backends(
    options: dict[str, Any] | Any,
) -> tuple[type[BaseBleakClient] | None, type[BaseBleakScanner] | None]:
    """(client backend, scanner backend) from config options; (None, None) = the platform's."""
    backend = options.get("backend")
    scanner = options.get("scanner_backend")
    if backend is None or isinstance(backend, type):
        # A simulated client backend knows its Air, and so the matching scanner backend.
        air = getattr(backend, "air", None)
        if scanner is None and callable(getattr(air, "scanner_backend", None)):
            scanner = air.scanner_backend()  # type: ignore[union-attr]
        return backend, scanner
    if callable(getattr(backend, "client_backend", None)):
        return backend.client_backend(), scanner or backend.scanner_backend()
    raise UsageError(
        "options['backend'] must be a bleak client backend class or an object with "
        "client_backend()/scanner_backend()"
    )


async def read_device_information(link: BleLink) -> DeviceInformation:
    values: dict[str, str | None] = {}
    for field_name, uuid in _DIS_FIELDS.items():
        if link.has_characteristic(uuid):
            values[field_name] = decode_dis_string(await link.read(uuid))
    return DeviceInformation(
        manufacturer=values.get("manufacturer"),
        model=values.get("model"),
        serial=values.get("serial"),
        hardware_revision=values.get("hardware_revision"),
        firmware_revision=values.get("firmware_revision"),
        software_revision=values.get("software_revision"),
    )


async def read_battery_level(link: BleLink) -> int | None:
    """Battery Service 0x180F level in percent, when the device exposes it (and it is sane)."""
    if not link.has_characteristic(uuids.BATTERY_LEVEL):
        return None
    data = await link.read(uuids.BATTERY_LEVEL)
    if not data or data[0] > 100:
        _LOGGER.debug("%s: ignoring battery level %s", link.name, data.hex() or "empty")
        return None
    return data[0]


def profile_of(config: DeviceConfig, link: BleLink) -> Kind:
    if config.kind is not None:
        try:
            return Kind(config.kind)
        except ValueError as exc:
            raise UsageError(
                f"{config.name}: kind {config.kind!r} is not blood_pressure or glucose"
            ) from exc
    if link.has_service(uuids.BLOOD_PRESSURE_SERVICE):
        return Kind.BLOOD_PRESSURE
    if link.has_service(uuids.GLUCOSE_SERVICE):
        return Kind.GLUCOSE
    raise DeviceSessionError(
        f"{config.name}: the device has neither a Blood Pressure (0x1810) nor a Glucose (0x1808) "
        "service; it is not a meter this gateway can read over standard BLE"
    )


class BleRunner:
    def __init__(self, config: DeviceConfig) -> None:
        if config.address is None and config.name_pattern is None:
            raise UsageError(f"{config.name}: a BLE device needs 'address' or 'name_pattern'")
        self.config = config
        options = dict(config.options)
        self.client_backend, self.scanner_backend = resolve_backends(options)
        policy = options.get("connect_policy", ConnectPolicy())
        if not isinstance(policy, ConnectPolicy):
            raise UsageError(f"{config.name}: options['connect_policy'] must be a ConnectPolicy")
        self.policy = policy
        record = options.get("record")
        self.record_path = Path(record) if record else None
        self.site_tz = str(options.get("site_tz", DEFAULT_SITE_TZ))
        TimeCorrector(self.site_tz)  # fail at configuration time on a bad zone name
        passkey = options.get("passkey")
        self.passkey = None if passkey is None else str(passkey)
        self.force_bond = bool(options.get("bond", False))
        self.bp_options: BpOptions = options.get(
            "bp", BpOptions(write_clock=bool(options.get("write_clock", False)))
        )
        # The gateway asks for control-solution records when it keeps a QC log of them.
        keep_control = bool(options.get("keep_control_solution", False))
        self.glucose_options: GlucoseOptions = options.get(
            "glucose", GlucoseOptions(drop_control_solution=not keep_control)
        )
        self.forced_quirk = quirk_by_name(config.quirk) if config.quirk else None

    def _state(self, ctx: DeviceContext, state: str, detail: str | None = None) -> None:
        ctx.status.state = state
        ctx.events.publish(DeviceState(self.config.name, state, detail, ctx.clock()))

    async def run_once(self, ctx: DeviceContext) -> None:
        self._state(ctx, "connecting")
        try:
            link = await open_link(
                self.config.name,
                address=self.config.address,
                name_pattern=self.config.name_pattern,
                policy=self.policy,
                client_backend=self.client_backend,
                scanner_backend=self.scanner_backend,
            )
        except Exception as exc:
            ctx.status.last_error = str(exc)
            self._state(ctx, "error", str(exc))
            raise
        ctx.status.last_seen = ctx.clock()
        recorder: CaptureRecorder | None = None
        if self.record_path is not None:
            # Imported only when asked for: recording is a field-debugging tool.
            from drivers.ble.capture import CaptureRecorder

            path = self.record_path
            if await asyncio.to_thread(path.is_dir):  # a stat: off the event loop
                # A directory: one capture per session, so a field problem is not overwritten
                # by the next, healthy, session.
                stamp = ctx.clock().strftime("%Y%m%dT%H%M%SZ")
                path = path / f"{self.config.name}-{stamp}.jsonl"
            recorder = CaptureRecorder(path, wall_clock=ctx.clock)
            link.add_observer(recorder)
        try:
            count = await self._session(link, ctx)
        except Exception as exc:
            ctx.status.last_error = str(exc)
            self._state(ctx, "error", str(exc))
            raise
        finally:
            await link.close()
            if recorder is not None:
                await asyncio.to_thread(recorder.write)
        ctx.status.last_error = None
        if count:
            ctx.status.readings_total += count
            ctx.status.last_reading_at = ctx.clock()
        self._state(ctx, "idle")

    async def _bond(self, link: BleLink) -> None:
        if self.passkey is None or backend_takes_passkey(self.client_backend):
            await bond(link, passkey=self.passkey, client_backend=self.client_backend)
            return
        # Real BlueZ: the PIN reaches bluetoothd through our Agent1 (only while bonding).
        from drivers.ble.agent import PairingAgent

        async with PairingAgent(self.passkey, device_address=link.address) as agent:
            await bond(
                link, passkey=self.passkey, client_backend=self.client_backend, agent=agent
            )

    async def _session(self, link: BleLink, ctx: DeviceContext) -> int:
        kind = profile_of(self.config, link)
        ctx.status.kind = kind.value
        services = list(link.services())
        early = self.forced_quirk or match_quirk(link.device_name, None, None, services)
        needs_bond = kind is Kind.GLUCOSE or self.force_bond or (
            early is not None and early.requires_bond
        )
        if needs_bond:
            await self._bond(link)
        info = await read_device_information(link)
        battery = await read_battery_level(link)
        if battery is not None:
            ctx.status.battery_pct = battery
        quirk = self.forced_quirk or match_quirk(
            link.device_name, info.manufacturer, info.model, services
        )
        identity = self._identity(link, info, quirk)
        _LOGGER.info("%s: %s session with %s (quirk %s)", self.config.name, kind.value,
                     identity.id, quirk.name if quirk else "none")
        corrector = TimeCorrector(self.site_tz)
        self._state(ctx, "transferring")
        if kind is Kind.BLOOD_PRESSURE:
            bp = BpSession(
                link, ctx, identity=identity, quirk=quirk, corrector=corrector,
                options=self.bp_options,
            )
            return len(await bp.run())
        glucose = GlucoseSession(
            link, ctx, identity=identity, quirk=quirk, corrector=corrector,
            options=self.glucose_options,
        )
        outcome = await glucose.run()
        return len(outcome.readings)

    def _identity(
        self, link: BleLink, info: DeviceInformation, quirk: Quirk | None
    ) -> DeviceIdentity:
        model = quirk.clean_model(info.model) if quirk is not None else info.model
        return DeviceIdentity(
            transport=Transport.BLE,
            address=link.address,
            manufacturer=info.manufacturer,
            model=model,
            serial=info.serial,
            firmware=info.firmware_revision,
        )


def make_runner(config: DeviceConfig) -> DeviceRunner:
    """Runner factory for the "ble" transport (gateway/transports.py)."""
    if config.transport != "ble":
        raise UsageError(f"{config.name}: transport {config.transport!r} is not ble")
    return BleRunner(config)
