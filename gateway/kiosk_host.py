"""Hosts the kiosk web app (kiosk/) inside the gateway process.

The kiosk shares the gateway's event loop, event bus and binder: a reading a resident takes is
bound, committed and only then shown, by the same objects in one process, with no network hop
between the screen and the outbox. Secrets come from files named in `[kiosk.settings]`, never
from the config text itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from core.devices import DeviceConfig
from gateway.config import Config
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from datetime import datetime

    from bleak.backends.client import BaseBleakClient
    from bleak.backends.scanner import BaseBleakScanner
    from fastapi import FastAPI

    from drivers.ble.link import ConnectPolicy
    from gateway.service import Gateway
    from kiosk.binding import SessionBinder
    from kiosk.carry import CarriedBundle, ReceiptApplied
    from kiosk.deps import KioskSettings
    from kiosk.pairing import FoundMeter, PairedMeter

_LOGGER = logging.getLogger(__name__)

# Keys of [kiosk.settings] that name files instead of holding values.
_FILE_KEYS = {
    "programme_key_file": "programme_key",
    "central_public_key_file": "central_public_key",
}


def _read_hex_key(where: str, path: str, length: int | None) -> bytes:
    try:
        text = Path(path).read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: {path} must hold the key as hex text") from exc
    if length is not None and len(key) != length:
        raise ConfigError(f"{where}: {path} must hold {length} bytes, it holds {len(key)}")
    if len(key) < 16:
        raise ConfigError(f"{where}: {path} holds a key shorter than 16 bytes")
    return key


def kiosk_settings(config: Config) -> KioskSettings:
    """Build the kiosk's settings from `[kiosk.settings]`, naming any key that is wrong."""
    from kiosk.deps import KioskSettings

    raw: dict[str, Any] = dict(config.kiosk.settings)
    known = {f.name for f in dataclasses.fields(KioskSettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"kiosk.settings.{key}"
        if key in _FILE_KEYS:
            length = 32 if key == "central_public_key_file" else None
            values[_FILE_KEYS[key]] = _read_hex_key(where, str(value), length)
        elif key in known and key not in _FILE_KEYS.values():
            if key == "languages":
                value = tuple(value)
            elif key == "thresholds_path":
                value = Path(value)
            elif key == "kader_pin_hashes" and not isinstance(value, dict):
                raise ConfigError(f"{where}: expected a table of kader id = scrypt hash")
            elif key in ("puskesmas_phone", "puskesmas_hours") and not isinstance(value, str):
                raise ConfigError(f'{where}: expected text in quotes, e.g. "0542-123456"')
            values[key] = value
        else:
            accepted = sorted((known - set(_FILE_KEYS.values())) | set(_FILE_KEYS))
            raise ConfigError(f"{where}: unknown key (known: {', '.join(accepted)})")
    values.update(_saved_settings(config))
    values.setdefault("kiosk_id", config.gateway.id)
    values.setdefault("site_name", config.gateway.site_id or config.gateway.id)
    values.setdefault("timezone", config.gateway.timezone)
    required = ("puskesmas_name", "puskesmas_address", "admin_password_hash")
    for key in (*required, "programme_key", "central_public_key"):
        if key not in values:
            hint = next((f for f, v in _FILE_KEYS.items() if v == key), key)
            raise ConfigError(f"kiosk.settings.{hint}: required when the kiosk is enabled")
    try:
        return KioskSettings(**values)
    except TypeError as exc:
        raise ConfigError(f"kiosk.settings: {exc}") from exc


@dataclasses.dataclass(frozen=True, slots=True)
class KioskHost:
    """The kiosk as a gateway hosts it: its binder, its settings, and its web server."""

    config: Config  # the gateway's config, with the meters paired from the operator page
    settings: KioskSettings
    binder: SessionBinder

    async def serve(self, gateway: Gateway) -> None:
        await serve_kiosk(self, gateway)


def kiosk_host(config: Config, wall_clock: Callable[[], datetime]) -> KioskHost:
    """Checked now, so a bad kiosk setting stops `gempita run` before anything starts."""
    from kiosk.binding import SessionBinder

    config = with_paired_devices(config)
    return KioskHost(config, kiosk_settings(config), SessionBinder(wall_clock))


# --- what the operator changed on the page, kept across restarts ---------------------------

SETTINGS_FILE = "kiosk-settings.json"  # in state_dir: the operator page's edits
PAIRED_FILE = "paired-devices.json"  # in state_dir: meters paired from the operator page


def _state_file(config: Config, name: str) -> Path:
    return Path(config.gateway.state_dir) / name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc}); move it aside to start") from exc


def _write_json(path: Path, body: Any) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(json.dumps(body, indent=1, ensure_ascii=False))
        out.flush()
        # Without it a power cut after the rename can leave an empty file, which stops start-up.
        os.fsync(out.fileno())
    tmp.replace(path)  # atomic: a power cut leaves the old file or the new one


def _saved_settings(config: Config) -> dict[str, Any]:
    """The operator page's edits: they override `[kiosk.settings]` (the page is newer)."""
    from kiosk.routes_admin import EDITABLE_FIELDS

    saved = _read_json(_state_file(config, SETTINGS_FILE))
    if not isinstance(saved, dict):
        return {}
    return {key: value for key, value in saved.items() if key in EDITABLE_FIELDS}


def save_settings(config: Config, settings: KioskSettings) -> None:
    """`on_settings_changed`: keep what the operator may edit (never keys or hashes)."""
    from kiosk.routes_admin import EDITABLE_FIELDS

    body = {key: getattr(settings, key) for key in EDITABLE_FIELDS}
    _write_json(_state_file(config, SETTINGS_FILE), body)
    _LOGGER.info("kiosk settings saved to %s", _state_file(config, SETTINGS_FILE))


def with_paired_devices(config: Config) -> Config:
    """The config plus the BLE meters paired and assigned from the operator page."""
    saved = _read_json(_state_file(config, PAIRED_FILE))
    if not isinstance(saved, list):
        return config
    path = _state_file(config, PAIRED_FILE)
    names = {d.name for d in config.devices}
    added = []
    for n, entry in enumerate(saved):
        if not isinstance(entry, dict) or entry.get("name") in names:
            continue
        if not all(isinstance(entry.get(key), str) for key in ("name", "address")):
            raise ConfigError(
                f"{path}: entry {n} needs a text name and address; fix it or move the file aside"
            )
        added.append(
            DeviceConfig(
                name=str(entry["name"]),
                transport="ble",
                kind=entry.get("kind"),
                address=str(entry["address"]),
            )
        )
    return dataclasses.replace(config, devices=(*config.devices, *added)) if added else config


def _remember_paired(config: Config, device: DeviceConfig) -> None:
    path = _state_file(config, PAIRED_FILE)
    saved = _read_json(path)
    entries = [e for e in saved if isinstance(e, dict)] if isinstance(saved, list) else []
    entries.append({"name": device.name, "kind": device.kind, "address": device.address})
    _write_json(path, entries)


def assign_meter(
    gateway: Gateway,
    address: str,
    kind: str,
    *,
    options: Mapping[str, Any] | None = None,
) -> str:
    """The gateway device that reads `address`: a configured one, or a new one, started now
    and kept in the state directory so it is read again after a restart."""
    wanted = address.upper()
    for device in gateway.config.devices:
        if device.transport == "ble" and (device.address or "").upper() == wanted:
            return device.name
    prefix = "bp" if kind == "blood_pressure" else "glucose"
    name = f"{prefix}-{wanted.replace(':', '').lower()}"
    device = DeviceConfig(
        name=name, transport="ble", kind=kind, address=wanted, options=dict(options or {})
    )
    _remember_paired(gateway.config, device)
    gateway.add_device(device)
    _LOGGER.info("device %s added from the operator page", name)
    return name


# --- pairing from the operator page --------------------------------------------------------


def pairing_error(exc: Exception) -> Exception:
    """A kiosk PairingError (an i18n text key plus the technical detail) for a driver error."""
    from drivers.ble.agent import ACCESS_DENIED_ADVICE, NO_SYSTEM_BUS_ADVICE
    from drivers.errors import DeviceUnavailableError, DriverError, UsageError
    from kiosk.pairing import PairingError

    detail = str(exc)
    if isinstance(exc, DeviceUnavailableError):
        cause = exc.__cause__
        if isinstance(cause, FileNotFoundError) or detail.startswith(
            NO_SYSTEM_BUS_ADVICE.split("{", 1)[0]
        ):
            return PairingError("pair_err_no_dbus", detail)
        if detail.startswith(ACCESS_DENIED_ADVICE.split("{", 1)[0]):
            return PairingError("pair_err_permission", detail)
        return PairingError("pair_err_no_bluetoothd", detail)
    if isinstance(exc, UsageError):
        return PairingError("pair_err_passkey", detail)
    if isinstance(exc, DriverError):
        if "not advertising" in detail:
            return PairingError("pair_err_not_found", detail)
        if "bonding failed" in detail:
            return PairingError("pair_err_refused", detail)
        if "could not connect" in detail:
            return PairingError("pair_err_connect", detail)
        return PairingError("pair_err_failed", detail)
    return PairingError("pair_err_failed", f"{type(exc).__name__}: {detail}")


class BlePairing:
    """`kiosk.pairing.Pairing` over drivers/ble: the same scan and bond as `gempita devices`.

    Backends, the D-Bus address of the pairing agent and the connect policy are injectable
    (simulated meters in tests and the demo); the defaults are BlueZ on the system bus.
    """

    def __init__(
        self,
        assign: Callable[[str, str, str | None], str],
        *,
        scan_s: float = 8.0,
        scanner_backend: type[BaseBleakScanner] | None = None,
        client_backend: type[BaseBleakClient] | None = None,
        bus_address: str | None = None,
        policy: ConnectPolicy | None = None,
    ) -> None:
        self.scan_s = scan_s
        self._assign = assign
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self._bus_address = bus_address
        self._policy = policy

    async def scan(self) -> list[FoundMeter]:
        from drivers.ble.scan import scan
        from drivers.errors import DriverError
        from kiosk.pairing import FoundMeter

        try:
            found = await scan(self.scan_s, backend=self._scanner_backend)
        except (DriverError, OSError) as exc:
            raise pairing_error(exc) from exc
        return [
            FoundMeter(
                address=d.address,
                name=d.name,
                kind=d.profile.value if d.profile is not None else None,
                rssi=d.rssi,
                quirk=d.quirk,
            )
            for d in found
        ]

    async def pair(self, address: str, passkey: str | None) -> PairedMeter:
        from drivers.ble.pair import pair
        from drivers.errors import DriverError
        from kiosk.pairing import PairedMeter

        try:
            result = await pair(
                address,
                passkey=passkey,
                policy=self._policy,
                client_backend=self._client_backend,
                scanner_backend=self._scanner_backend,
                bus_address=self._bus_address,
            )
        except (DriverError, OSError) as exc:
            raise pairing_error(exc) from exc
        return PairedMeter(result.address, result.name, result.passkey_used)

    async def assign(self, address: str, kind: str, name: str | None) -> str:
        from kiosk.pairing import PairingError

        try:
            return self._assign(address, kind, name)
        except (OSError, ValueError, ConfigError) as exc:
            raise PairingError("pair_err_failed", str(exc)) from exc


def _pairing(gateway: Gateway) -> BlePairing:
    """BlueZ by default; the simulated air when the BLE devices are simulated (the demo, a
    trainer's rehearsal), so pairing from the page finds the meters that are really there."""
    from drivers.ble.runner import resolve_backends

    simulated = next(
        (
            d
            for d in gateway.config.devices
            if d.transport == "ble" and d.options.get("backend") is not None
        ),
        None,
    )
    if simulated is None:
        return BlePairing(lambda address, kind, _name: assign_meter(gateway, address, kind))
    client, scanner = resolve_backends(dict(simulated.options))
    options = {"backend": simulated.options["backend"]}

    def assign_simulated(address: str, kind: str, _name: str | None) -> str:
        return assign_meter(gateway, address, kind, options=options)

    return BlePairing(assign_simulated, scanner_backend=scanner, client_backend=client)


# --- the kader's phone carries the bundles (issue 14 item 2) -------------------------------


class BundleCarry:
    """`kiosk.carry.Carry` over gateway.bundles, with the keys `gempita bundle` uses.

    The keys are read at each call, not at start-up: a kit whose certificate is issued later
    needs no restart, and a missing key is a message on the kader's page and in the log (it
    names the setting), never a gateway that does not start.
    """

    def __init__(self, config: Config, central_public_key: bytes) -> None:
        self._config = config
        self._recipient = central_public_key

    @property
    def gateway_id(self) -> str:
        return self._config.gateway.id

    def _key_file(self, key: str, value: str) -> bytes:
        from kiosk.carry import CarryError

        if not value:
            raise CarryError("carry_err_keys", f"mqtt.{key} is not set (`gempita pki gateway`)")
        try:
            return Path(value).read_bytes()
        except OSError as exc:
            raise CarryError("carry_err_keys", f"mqtt.{key}: cannot read {value}: {exc}") from exc

    def _export(self) -> list[CarriedBundle]:
        from core.bundle import BundleError, load_signer
        from core.clock import utc_now
        from gateway.bundles import export_bundles
        from gateway.errors import GatewayError
        from kiosk.carry import CarriedBundle, CarryError

        mqtt = self._config.mqtt
        try:
            signer = load_signer(
                self._key_file("cert_file", mqtt.cert_file),
                self._key_file("key_file", mqtt.key_file),
            )
            return [
                CarriedBundle(b.name, b.data, b.count, b.chunk, b.chunks, b.export_id)
                for b in export_bundles(
                    self._config.outbox_path,
                    gateway_id=self._config.gateway.id,
                    signer=signer,
                    recipient_public_key=self._recipient,
                    now=utc_now(),
                )
            ]
        except BundleError as exc:
            raise CarryError("carry_err_keys", str(exc)) from exc
        except GatewayError as exc:
            raise CarryError("carry_err_export", str(exc)) from exc

    def _apply(self, data: bytes) -> ReceiptApplied:
        from core.bundle import BundleError, load_trust
        from core.clock import utc_now
        from gateway.bundles import apply_receipt
        from gateway.errors import GatewayError
        from kiosk.carry import CarryError, ReceiptApplied

        try:
            trust = load_trust(self._key_file("ca_file", self._config.mqtt.ca_file))
        except BundleError as exc:
            raise CarryError("carry_err_keys", str(exc)) from exc
        try:
            done = apply_receipt(
                self._config.outbox_path,
                data,
                gateway_id=self._config.gateway.id,
                trust=trust,
                now=utc_now(),
            )
        except BundleError as exc:
            raise CarryError("carry_err_receipt", str(exc)) from exc
        except GatewayError as exc:
            raise CarryError("carry_err_export", str(exc)) from exc
        return ReceiptApplied(done.confirmed, done.already, done.unknown, done.bundle_sha256)

    # Sealing reads the whole outbox and signs; a receipt writes it: both in a thread.
    async def export(self) -> list[CarriedBundle]:
        return await asyncio.to_thread(self._export)

    async def apply_receipt(self, data: bytes) -> ReceiptApplied:
        return await asyncio.to_thread(self._apply, data)


def _build_app(host: KioskHost, gateway: Gateway) -> FastAPI:
    from kiosk.app import create_app
    from kiosk.deps import KioskDeps

    if gateway.binder is not host.binder:
        raise ConfigError("kiosk: the gateway was started without the kiosk's binder")

    deps = KioskDeps(
        settings=host.settings,
        binder=host.binder,
        events=gateway.events,
        sync_state=lambda: dict(gateway.status_snapshot()["outbox"]),
        device_status=lambda: [gateway.device_status(d) for d in gateway.devices.values()],
        request_measurement=gateway.request_measurement,
        # Read-only, on the outbox's DB thread: the kader pages' stored/sent/confirmed.
        reading_states=gateway.outbox.states,
        pairing=_pairing(gateway),
        broker_state=lambda: {
            **gateway.publisher.state.as_dict(),
            "alarms": gateway.outbox.alarms.as_list(),
        },
        on_settings_changed=lambda settings: save_settings(gateway.config, settings),
        carry=BundleCarry(gateway.config, host.settings.central_public_key)
        if host.settings.central_upload_url
        else None,
        assurance=gateway.assurance,
    )
    return create_app(deps)


async def serve_kiosk(host: KioskHost, gateway: Gateway) -> None:
    # Imported only when a kiosk is served, and in a thread: the first import reads uvicorn's
    # modules from disk, which would stall the event loop the devices already run on.
    await asyncio.to_thread(importlib.import_module, "uvicorn")
    import uvicorn

    class _Server(uvicorn.Server):
        # The gateway owns SIGTERM/SIGINT (it stops devices, then the outbox, in order).
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = _build_app(host, gateway)
    kiosk = gateway.config.kiosk

    def config(port: int, *, tls: bool, lifespan: Literal["on", "off"]) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            host=kiosk.host,
            port=port,
            log_config=None,
            access_log=False,  # request paths can carry session ids; keep them out of logs
            ws="none",
            lifespan=lifespan,
            # Checked by the config loader; uvicorn reads the files once, when it binds.
            ssl_certfile=kiosk.tls_cert_file if tls else None,
            ssl_keyfile=kiosk.tls_key_file if tls else None,
        )

    # Plain http stays on `port` with TLS on: the captive portal's probes and its port-80
    # redirect speak http, and the kiosk's own screen opens localhost. The same app serves
    # https on `tls_port`; its lifespan (the event board, the sweeper) runs once, on http.
    servers = {"http": _Server(config(kiosk.port, tls=False, lifespan="on"))}
    _LOGGER.info("kiosk serving http://%s:%d", kiosk.host, kiosk.port)
    if kiosk.tls_cert_file:
        servers["https"] = _Server(config(kiosk.tls_port, tls=True, lifespan="off"))
        _LOGGER.info("kiosk serving https://%s:%d", kiosk.host, kiosk.tls_port)
    serving = [
        asyncio.create_task(server.serve(), name=f"kiosk-{scheme}")
        for scheme, server in servers.items()
    ]
    try:
        # One server ending (a port it cannot bind) ends the kiosk, as it did with one.
        await asyncio.shield(asyncio.wait(serving, return_when=asyncio.FIRST_COMPLETED))
    except asyncio.CancelledError:
        for server in servers.values():
            server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*serving)
        raise
    for server in servers.values():
        server.should_exit = True
    await asyncio.gather(*serving, return_exceptions=True)
    for task in serving:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
