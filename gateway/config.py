"""Gateway configuration: a TOML file, checked strictly before anything starts.

Every mistake names the key (`mqtt.url`) or the file and says what is wrong, so an operator at
a kiosk can fix it from the message alone. Unknown keys are errors, not silently ignored: a
typo in `max_readings` must not leave the default in force unnoticed.
"""

from __future__ import annotations

import dataclasses
import ssl
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.clock import DEFAULT_SITE_TZ, UnknownTimeZoneError, site_zone
from core.devices import DeviceCheck, DeviceConfig
from gateway.errors import ConfigError


@dataclass(frozen=True, slots=True)
class GatewaySection:
    id: str = "gw-001"
    site_id: str = ""
    # "kiosk" (a fixed site with Wi-Fi) or "kit" (a kader's portable kit, often offline for
    # days): central's fleet page judges them differently (a kit is expected to be away).
    kind: str = "kiosk"
    state_dir: str = "/var/lib/gempita"
    timezone: str = DEFAULT_SITE_TZ  # WITA: Balikpapan's wall clock
    log_level: str = "INFO"


@dataclass(frozen=True, slots=True)
class OutboxSection:
    path: str = "outbox.db"  # relative paths are inside gateway.state_dir
    # "full": every commit is fsync'd before it is acknowledged (survives power loss).
    # "normal": WAL syncs at checkpoints only: survives a crash of the process, but a power cut
    # may lose the last commits. Use "full" on kiosks without a UPS.
    synchronous: str = "full"
    max_readings: int = 500_000  # unconfirmed readings kept before new ones are refused
    max_db_mb: int = 0  # 0: no size cap besides the disk itself
    retention_hours: float = 168.0  # confirmed readings are purged after this
    resend_after_s: float = 600.0  # published but unconfirmed for this long: send again
    batch_max: int = 2000  # rows per group commit


@dataclass(frozen=True, slots=True)
class MqttSection:
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = ""  # default: the gateway id
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive_s: int = 30
    window: int = 1000  # QoS 1 messages in flight (application-enforced)
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    status_interval_s: float = 30.0
    error_retry_s: float = 300.0  # a refused reading (PUBACK >= 0x80) waits this long
    # Published readings still unconfirmed this long after a reconnect, or while no receipt
    # has come for this long, are sent again (then at doubling gaps up to resend_after_s).
    receipt_timeout_s: float = 15.0


@dataclass(frozen=True, slots=True)
class KioskSection:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    # HTTPS for the kader's phone: browsers keep the carry page's service worker only on a
    # secure origin, and a phone reaches the kit at http://10.x.x.x, which is not one.
    # Both or neither; `gempita pki kiosk` issues them from the deployment CA.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # With TLS the kiosk serves https here and keeps plain http on `port`: the captive
    # portal's probes and its port-80 redirect speak http.
    tls_port: int = 8443
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert_file else "http"


@dataclass(frozen=True, slots=True)
class MetricsSection:
    # Off unless asked for: several gateways may share one machine (the demo, load tests) and
    # a fixed port every one of them binds would stop the second from starting.
    listen: str = ""  # "127.0.0.1:9108": where Prometheus scrapes /metrics; "" = no endpoint

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on, or None when metrics are off (checked by the loader)."""
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class AssuranceSection:
    # Off by default: with it on, every reading's payload carries an assurance verdict, and a
    # kit whose kader has entered nothing yet would flag every reading "unknown".
    enabled: bool = False
    path: str = "assurance.json"  # relative paths are inside gateway.state_dir
    control_every_days: int = 7  # a glucometer needs a passing control test this recent
    battery_critical_pct: int = 10
    calibration_required: bool = True  # a BP monitor without a due date is "unknown"
    qc_log_max: int = 200  # control tests kept per device (oldest dropped first)


@dataclass(frozen=True, slots=True)
class Config:
    gateway: GatewaySection = field(default_factory=GatewaySection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    kiosk: KioskSection = field(default_factory=KioskSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    assurance: AssuranceSection = field(default_factory=AssuranceSection)
    devices: tuple[DeviceConfig, ...] = ()
    source: str = "<defaults>"

    @property
    def outbox_path(self) -> Path:
        path = Path(self.outbox.path)
        return path if path.is_absolute() else Path(self.gateway.state_dir) / path

    @property
    def assurance_path(self) -> Path:
        path = Path(self.assurance.path)
        return path if path.is_absolute() else Path(self.gateway.state_dir) / path

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or self.gateway.id


_SECTIONS: dict[str, type[Any]] = {
    "gateway": GatewaySection,
    "outbox": OutboxSection,
    "mqtt": MqttSection,
    "kiosk": KioskSection,
    "metrics": MetricsSection,
    "assurance": AssuranceSection,
}
_DEVICE_KEYS = {f.name for f in dataclasses.fields(DeviceConfig)}


def _check_value(where: str, value: Any, annotation: Any) -> Any:
    expected = annotation
    if isinstance(expected, str):
        expected = {"str": str, "int": int, "float": float, "bool": bool}.get(expected, expected)
    origin = typing.get_origin(expected)
    if origin is dict or expected == "dict[str, Any]":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _build_section(name: str, cls: type[Any], raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}]: expected a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key (known: {', '.join(sorted(known))})")
        kwargs[key] = _check_value(f"{name}.{key}", value, hints[key])
    return cls(**kwargs)


def _build_device(index: int, raw: Any) -> DeviceConfig:
    where = f"devices[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table ([[devices]])")
    unknown = set(raw) - _DEVICE_KEYS
    if unknown:
        raise ConfigError(
            f"{where}.{sorted(unknown)[0]}: unknown key (known: {', '.join(sorted(_DEVICE_KEYS))})"
        )
    for key in ("name", "transport"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}.{key}: required (a non-empty string)")
    options = raw.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}.options: expected a table")
    kwargs = {k: v for k, v in raw.items() if k != "options"}
    for key, value in kwargs.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key}: expected a string, got {value!r}")
    if raw["transport"] not in ("ble", "serial", "simulated"):
        raise ConfigError(
            f"{where}.transport: {raw['transport']!r} is not one of ble, serial, simulated"
        )
    if raw.get("kind") not in (None, "blood_pressure", "glucose"):
        raise ConfigError(f"{where}.kind: {raw['kind']!r} is not blood_pressure or glucose")
    return DeviceConfig(options=types.MappingProxyType(dict(options)), **kwargs)


def _zone_error(where: str, name: object) -> ConfigError | None:
    if not isinstance(name, str) or not name:
        return ConfigError(f"{where}: expected an IANA time zone name such as {DEFAULT_SITE_TZ}")
    try:
        site_zone(name)
    except UnknownTimeZoneError:
        return ConfigError(f"{where}: unknown time zone {name!r}")
    return None


def with_site_timezone(
    devices: tuple[DeviceConfig, ...], timezone: str
) -> tuple[DeviceConfig, ...]:
    """Each device's `options.site_tz` made explicit: its own override, else `timezone`.

    One setting for the meters' wall clock: `gateway.timezone` (what the kiosk shows too), with
    a per-device override for a meter set to another zone. Resolving it here, once, means the
    BLE and serial runners read one option and never fall back to a zone of their own.
    """
    return tuple(
        d
        if "site_tz" in d.options
        else dataclasses.replace(
            d, options=types.MappingProxyType({**d.options, "site_tz": timezone})
        )
        for d in devices
    )


def _check_metrics_listen(listen: str) -> None:
    if not listen:
        return
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(
            f"metrics.listen: {listen!r} is not host:port like 127.0.0.1:9108 "
            '(or "" for no metrics endpoint)'
        )


def _check_assurance(a: AssuranceSection) -> None:
    if a.control_every_days < 1:
        raise ConfigError(
            f"assurance.control_every_days: {a.control_every_days} must be at least 1 "
            "(days between the control-solution tests a glucometer needs)"
        )
    if not 0 <= a.battery_critical_pct <= 100:
        raise ConfigError(
            f"assurance.battery_critical_pct: {a.battery_critical_pct} must be between 0 and 100"
        )
    if a.qc_log_max < 1:
        raise ConfigError("assurance.qc_log_max: must be at least 1")
    if not a.path:
        raise ConfigError("assurance.path: must name a file (relative: inside gateway.state_dir)")


def _check_kiosk_tls(k: KioskSection) -> None:
    """Checked here, not when uvicorn starts: by then the devices already run, and uvicorn's
    own message names neither the key nor the file."""
    if bool(k.tls_cert_file) != bool(k.tls_key_file):
        raise ConfigError("kiosk.tls_cert_file and kiosk.tls_key_file must be given together")
    if not k.tls_cert_file:
        return
    if not 1 <= k.tls_port <= 65535 or k.tls_port == k.port:
        raise ConfigError(
            f"kiosk.tls_port: {k.tls_port} must be a port from 1 to 65535 other than "
            f"kiosk.port ({k.port}), which keeps plain http for the captive portal"
        )
    for key in ("tls_cert_file", "tls_key_file"):
        path = getattr(k, key)
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise ConfigError(f"kiosk.{key}: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            k.tls_cert_file, k.tls_key_file
        )
    except ssl.SSLError as exc:
        raise ConfigError(
            f"kiosk.tls_cert_file: {k.tls_cert_file} and kiosk.tls_key_file: {k.tls_key_file} "
            f"are not a PEM certificate and its key ({exc.reason or exc}); "
            "issue them with `gempita pki kiosk`"
        ) from exc


def _validate(config: Config) -> None:
    g, o, m = config.gateway, config.outbox, config.mqtt
    if not g.id or not all(c.isalnum() or c in "-_" for c in g.id):
        raise ConfigError(f"gateway.id: {g.id!r} must be letters, digits, '-' or '_' only")
    if g.kind not in ("kiosk", "kit"):
        raise ConfigError(f"gateway.kind: {g.kind!r} must be 'kiosk' or 'kit'")
    zone_error = _zone_error("gateway.timezone", g.timezone)
    if zone_error is not None:
        raise zone_error
    if o.synchronous not in ("full", "normal"):
        raise ConfigError(f"outbox.synchronous: {o.synchronous!r} must be 'full' or 'normal'")
    for key in ("max_readings", "batch_max"):
        if getattr(o, key) < 1:
            raise ConfigError(f"outbox.{key}: must be at least 1")
    if o.max_db_mb < 0:
        raise ConfigError("outbox.max_db_mb: must be 0 (no cap) or more")
    parts = urlsplit(m.url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(
            f"mqtt.url: {m.url!r} is not a broker URL like mqtts://broker.example:8883"
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"mqtt.url: bad port in {m.url!r}") from exc
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(m, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"mqtt.{key}: file {path} does not exist or is not a file")
    if bool(m.cert_file) != bool(m.key_file):
        raise ConfigError("mqtt.cert_file and mqtt.key_file must be given together")
    if m.window < 1 or m.window > 60_000:
        raise ConfigError("mqtt.window: must be between 1 and 60000 (MQTT packet ids are 16-bit)")
    _check_metrics_listen(config.metrics.listen)
    _check_kiosk_tls(config.kiosk)
    _check_assurance(config.assurance)
    for index, device in enumerate(config.devices):
        if "site_tz" in device.options:
            error = _zone_error(f"devices[{index}].options.site_tz", device.options["site_tz"])
            if error is not None:
                raise error
    names = [d.name for d in config.devices]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"devices: name {sorted(dupes)[0]!r} is used twice")


def _prepare_devices(
    devices: tuple[DeviceConfig, ...], base_dir: Path, checks: Mapping[str, DeviceCheck]
) -> tuple[DeviceConfig, ...]:
    """Each device's transport checks its own options (core.devices.DeviceCheck)."""
    prepared = []
    for index, device in enumerate(devices):
        check = checks.get(device.transport)
        try:
            prepared.append(check(device, base_dir) if check else device)
        except ValueError as exc:
            raise ConfigError(f"devices[{index}].{exc}") from exc
    return tuple(prepared)


def parse_config(
    data: dict[str, Any],
    source: str = "<dict>",
    *,
    base_dir: Path | None = None,
    device_checks: Mapping[str, DeviceCheck] | None = None,
) -> Config:
    """`base_dir`: where relative device paths are taken from (the config file's directory;
    the working directory when None). `device_checks`: per transport, from the composition
    root (gateway/cli/compose.py), for transports whose options only their driver understands."""
    kwargs: dict[str, Any] = {"source": source}
    for key, value in data.items():
        if key in _SECTIONS:
            kwargs[key] = _build_section(key, _SECTIONS[key], value)
        elif key == "devices":
            if not isinstance(value, list):
                raise ConfigError("devices: expected an array of tables ([[devices]])")
            kwargs["devices"] = tuple(_build_device(i, d) for i, d in enumerate(value))
        else:
            raise ConfigError(
                f"{key}: unknown section (known: {', '.join([*sorted(_SECTIONS), 'devices'])})"
            )
    config = Config(**kwargs)
    _validate(config)
    devices = with_site_timezone(config.devices, config.gateway.timezone)
    return dataclasses.replace(
        config, devices=_prepare_devices(devices, base_dir or Path.cwd(), device_checks or {})
    )


def load_config(
    path: str | Path, *, device_checks: Mapping[str, DeviceCheck] | None = None
) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from exc
    return parse_config(
        data, source=str(path), base_dir=path.resolve().parent, device_checks=device_checks
    )
