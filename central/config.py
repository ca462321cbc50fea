"""Central's configuration: one TOML file, checked whole before anything connects.

The same rules as the gateway's file (gateway/config.py): every mistake names the dotted key
(`fhir.delivery.token_url`) or the file and says what to change, and an unknown key is an
error, because a typo'd `session_expiry_s` silently left at its default would only show on
the day a broker restart loses readings. Secrets (the OAuth client secret, the NIK key) are
read from files named here; no message ever repeats a secret's content.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from central.errors import CentralConfigError
from central.fhir.settings import DeliverySettings, FhirSettings
from central.referral_rules import Severity
from central.web.settings import WebSettings
from central.wilayah import load_wilayah
from core.mqtt import BrokerSettings

DEFAULT_DATABASE_URL = "sqlite:///central.db"
# Long enough that a central stopped over a holiday weekend finds its queue still at the
# broker; the broker's own queue limits (broker/mosquitto.conf) bound what it holds meanwhile.
DEFAULT_SESSION_EXPIRY_S = 14 * 24 * 3600
_MAX_SESSION_EXPIRY_S = 0xFFFFFFFF  # MQTT v5 Session Expiry Interval is a four-byte integer
_DIALECTS = ("sqlite", "postgresql+psycopg")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_NIK_KEY_BYTES = 32  # a raw X25519 private key (kiosk/privacy.py seals for its public half)


@dataclass(frozen=True, slots=True)
class BrokerSection:
    url: str = "mqtt://127.0.0.1:1883"
    client_id: str = "central-1"  # unique per instance: the broker keeps one session per id
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive_s: int = 30
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S

    def settings(self) -> BrokerSettings:
        # A non-zero session expiry is what turns clean start off (core/mqtt.py): readings
        # published while central restarts wait in its session at the broker.
        return BrokerSettings(
            url=self.url,
            client_id=self.client_id,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            keepalive_s=self.keepalive_s,
            session_expiry_s=self.session_expiry_s,
        )


@dataclass(frozen=True, slots=True)
class BundlesSection:
    """Central's side of the USB path (`gempita central import`). Empty names are allowed
    here, because the service itself never reads a bundle; the import command refuses to
    start without them and names the key."""

    ca_file: str = ""  # the deployment CA every gateway's signing certificate comes from
    cert_file: str = ""  # central's EC certificate, signs the receipt files
    key_file: str = ""
    x25519_key_file: str = ""  # hex; the private half of the key gateways encrypt bundles to


@dataclass(frozen=True, slots=True)
class MetricsListen:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class CentralConfig:
    broker: BrokerSection = field(default_factory=BrokerSection)
    database_url: str = DEFAULT_DATABASE_URL
    fhir: FhirSettings | None = None  # None: no [fhir] table, FHIR output not configured
    delivery: DeliverySettings | None = None  # None: no [fhir.delivery], nothing is POSTed
    metrics: MetricsListen | None = None  # None: no /metrics endpoint
    web: WebSettings | None = None  # None: [web] listen unset, no staff web app
    bundles: BundlesSection = field(default_factory=BundlesSection)
    log_level: str = "INFO"
    source: str = "<defaults>"

    @property
    def broker_settings(self) -> BrokerSettings:
        return self.broker.settings()


class _Table:
    """One TOML table being read: typed getters that name `where.key` in every error."""

    def __init__(self, where: str, raw: object, known: Iterable[str]) -> None:
        if not isinstance(raw, dict):
            raise CentralConfigError(f"[{where}]: expected a table, got {type(raw).__name__}")
        self.where = where
        self.raw: dict[str, Any] = raw
        self.known = tuple(known)
        for key in raw:
            if key not in self.known:
                raise CentralConfigError(
                    f"{self.name(key)}: unknown key (known: {', '.join(sorted(self.known))})"
                )

    def name(self, key: str) -> str:
        return f"{self.where}.{key}"

    def has(self, key: str) -> bool:
        return key in self.raw

    def text(self, key: str, default: str = "") -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str):
            raise CentralConfigError(f"{self.name(key)}: expected a string, got {value!r}")
        return value

    def required_str(self, key: str) -> str:
        value = self.text(key).strip()
        if not value:
            raise CentralConfigError(f"{self.name(key)}: required (a non-empty string)")
        return value

    def whole(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise CentralConfigError(f"{self.name(key)}: expected a whole number, got {value!r}")
        if not low <= value <= high:
            raise CentralConfigError(f"{self.name(key)}: must be between {low} and {high}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise CentralConfigError(f"{self.name(key)}: expected true or false, got {value!r}")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CentralConfigError(f"{self.name(key)}: expected a number, got {value!r}")
        if value <= 0:
            raise CentralConfigError(f"{self.name(key)}: must be more than 0 seconds")
        return float(value)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise CentralConfigError(
                f"{self.name(key)}: {value!r} is not one of {', '.join(choices)}"
            )
        return value

    def path(self, key: str, base_dir: Path) -> str:
        """A file name, relative ones taken from the config file's directory."""
        value = self.text(key)
        if not value:
            return ""
        path = Path(value)
        return str(path if path.is_absolute() else base_dir / path)


def _existing_file(where: str, path: str) -> None:
    if not Path(path).is_file():
        raise CentralConfigError(f"{where}: file {path} does not exist or is not a file")


def _broker(raw: object, base_dir: Path) -> BrokerSection:
    known = [f.name for f in dataclasses.fields(BrokerSection)]
    t = _Table("broker", raw, known)
    defaults = BrokerSection()
    section = BrokerSection(
        url=t.text("url", defaults.url),
        client_id=t.text("client_id", defaults.client_id),
        ca_file=t.path("ca_file", base_dir),
        cert_file=t.path("cert_file", base_dir),
        key_file=t.path("key_file", base_dir),
        keepalive_s=t.whole("keepalive_s", defaults.keepalive_s, 5, 65535),
        session_expiry_s=t.whole(
            "session_expiry_s", DEFAULT_SESSION_EXPIRY_S, 1, _MAX_SESSION_EXPIRY_S
        ),
    )
    parts = urlsplit(section.url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise CentralConfigError(
            f"broker.url: {section.url!r} is not a broker URL like mqtts://broker.example:8883"
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise CentralConfigError(f"broker.url: bad port in {section.url!r}") from exc
    if not section.client_id or not all(c.isalnum() or c in "-_." for c in section.client_id):
        raise CentralConfigError(
            f"broker.client_id: {section.client_id!r} must be letters, digits, '-', '_' or '.'"
        )
    if bool(section.cert_file) != bool(section.key_file):
        raise CentralConfigError("broker.cert_file and broker.key_file must be given together")
    if parts.scheme == "mqtts" and not section.cert_file:
        # The production broker requires a client certificate (broker/mosquitto.conf).
        raise CentralConfigError(
            "broker.cert_file: required for mqtts:// (central's certificate from "
            "`gempita pki central`), with broker.key_file"
        )
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(section, key)
        if path:
            _existing_file(f"broker.{key}", path)
    return section


def _database(raw: object) -> str:
    t = _Table("database", raw, ["url"])
    url = t.text("url", DEFAULT_DATABASE_URL)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        # Not echoed: a malformed URL may still carry a password.
        raise CentralConfigError(
            "database.url: not a SQLAlchemy URL like "
            "postgresql+psycopg://gempita@db.example/gempita or sqlite:///central.db"
        ) from exc
    if parsed.drivername not in _DIALECTS:
        raise CentralConfigError(
            f"database.url: dialect {parsed.drivername!r} is not supported; use "
            "postgresql+psycopg:// (a city) or sqlite:/// (the demo)"
        )
    if not parsed.database:
        raise CentralConfigError(
            f"database.url: {parsed.render_as_string(hide_password=True)!r} names no database"
        )
    return url


def _read_secret(where: str, path: str) -> str:
    """A file's whole content, stripped; errors name the file, never what it holds."""
    if not path:
        raise CentralConfigError(f"{where}: required (the file holding it)")
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CentralConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CentralConfigError(f"{where}: {path} is not UTF-8 text") from exc
    if not text:
        raise CentralConfigError(f"{where}: {path} is empty")
    return text


def _nik_key(where: str, path: str) -> bytes:
    text = _read_secret(where, path)
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise CentralConfigError(f"{where}: {path} must hold the key as hex text") from exc
    if len(key) != _NIK_KEY_BYTES:
        raise CentralConfigError(
            f"{where}: {path} must hold a {_NIK_KEY_BYTES}-byte X25519 private key, "
            f"it holds {len(key)} bytes"
        )
    return key


def _web_url(where: str, url: str) -> str:
    """https, or plain http to this machine only (the tests' stand-in FHIR server)."""
    parts = urlsplit(url)
    local = False
    if parts.hostname:
        try:
            local = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            local = parts.hostname == "localhost"
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise CentralConfigError(
            f"{where}: {url!r} must be an https:// URL (http:// only to 127.0.0.1, for tests)"
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise CentralConfigError(f"{where}: bad port in {url!r}") from exc
    return url.rstrip("/")


def _delivery(raw: object, base_dir: Path) -> DeliverySettings:
    t = _Table(
        "fhir.delivery",
        raw,
        [
            "base_url",
            "token_url",
            "client_id_file",
            "client_secret_file",
            "batch_size",
            "timeout_s",
            "retry_initial_s",
            "retry_cap_s",
        ],
    )
    defaults = DeliverySettings("", "", "", "")
    settings = DeliverySettings(
        base_url=_web_url(t.name("base_url"), t.required_str("base_url")),
        token_url=_web_url(t.name("token_url"), t.required_str("token_url")),
        client_id=_read_secret(t.name("client_id_file"), t.path("client_id_file", base_dir)),
        client_secret=_read_secret(
            t.name("client_secret_file"), t.path("client_secret_file", base_dir)
        ),
        batch_size=t.whole("batch_size", defaults.batch_size, 1, 1000),
        timeout_s=t.seconds("timeout_s", defaults.timeout_s),
        retry_initial_s=t.seconds("retry_initial_s", defaults.retry_initial_s),
        retry_cap_s=t.seconds("retry_cap_s", defaults.retry_cap_s),
    )
    if settings.retry_cap_s < settings.retry_initial_s:
        raise CentralConfigError(
            "fhir.delivery.retry_cap_s: must be at least fhir.delivery.retry_initial_s"
        )
    return settings


def _fhir(raw: object, base_dir: Path) -> tuple[FhirSettings, DeliverySettings | None]:
    t = _Table(
        "fhir",
        raw,
        [
            "organization_id",
            "location_id",
            "encounter_id",
            "bp_profile",
            "subject_identifier",
            "pseudonym_system",
            "nik_private_key_file",
            "delivery",
        ],
    )
    defaults = FhirSettings(organization_id="")
    subject = t.choice("subject_identifier", defaults.subject_identifier, ("pseudonym", "nik"))
    key_file = t.path("nik_private_key_file", base_dir)
    if subject == "nik" and not key_file:
        raise CentralConfigError(
            'fhir.nik_private_key_file: required when fhir.subject_identifier = "nik" '
            "(central's X25519 private key, hex)"
        )
    pseudonym_system = t.text("pseudonym_system", defaults.pseudonym_system)
    if urlsplit(pseudonym_system).scheme not in ("http", "https", "urn"):
        raise CentralConfigError(
            f"fhir.pseudonym_system: {pseudonym_system!r} must be a URI (https://... or urn:...)"
        )
    settings = FhirSettings(
        organization_id=t.required_str("organization_id"),
        location_id=t.text("location_id") or None,
        encounter_id=t.text("encounter_id") or None,
        bp_profile=cast(
            Literal["split", "panel"],
            t.choice("bp_profile", defaults.bp_profile, ("split", "panel")),
        ),
        subject_identifier=cast(Literal["pseudonym", "nik"], subject),
        pseudonym_system=pseudonym_system,
        # Kept only where it is used: in pseudonym mode the key need not be on this host.
        nik_private_key=_nik_key("fhir.nik_private_key_file", key_file) if key_file else None,
    )
    delivery = _delivery(t.raw["delivery"], base_dir) if t.has("delivery") else None
    return settings, delivery


def _listen(where: str, listen: str, example: str) -> MetricsListen:
    host, sep, port_text = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise CentralConfigError(f"{where}: {listen!r} is not host:port like {example}")
    return MetricsListen(host=host, port=int(port_text))


def _bundles(raw: object, base_dir: Path) -> BundlesSection:
    known = [f.name for f in dataclasses.fields(BundlesSection)]
    t = _Table("bundles", raw, known)
    section = BundlesSection(**{key: t.path(key, base_dir) for key in known})
    if bool(section.cert_file) != bool(section.key_file):
        raise CentralConfigError("bundles.cert_file and bundles.key_file must be given together")
    for key in known:
        path = getattr(section, key)
        if path:
            _existing_file(f"bundles.{key}", path)
    return section


def _metrics(raw: object) -> MetricsListen | None:
    t = _Table("metrics", raw, ["listen"])
    listen = t.text("listen").strip()
    if not listen:
        return None
    return _listen("metrics.listen", listen, "127.0.0.1:9464")


def _web(raw: object, base_dir: Path) -> WebSettings | None:
    t = _Table(
        "web",
        raw,
        [
            "listen",
            "secure_cookies",
            "session_idle_s",
            "login_max_failures",
            "login_window_s",
            "login_lockout_s",
            "wilayah_file",
            "upload_origins",
            *(f"referral_due_days_{severity.value}" for severity in Severity),
        ],
    )
    defaults = WebSettings()
    # Every key is checked even when listen is off, so a typo shows before it is switched on.
    settings = WebSettings(
        secure_cookies=t.flag("secure_cookies", defaults.secure_cookies),
        session_idle_s=t.seconds("session_idle_s", defaults.session_idle_s),
        login_max_failures=t.whole("login_max_failures", defaults.login_max_failures, 1, 100),
        login_window_s=t.seconds("login_window_s", defaults.login_window_s),
        login_lockout_s=t.seconds("login_lockout_s", defaults.login_lockout_s),
        # How many days after the reading a referral is due, by severity (the programme may
        # tighten "within a week"); the clinical cut-offs themselves stay the kiosk's.
        referral_rules=dataclasses.replace(
            defaults.referral_rules,
            due_days={
                severity: t.whole(
                    f"referral_due_days_{severity.value}",
                    defaults.referral_rules.due_days[severity],
                    0,
                    365,
                )
                for severity in Severity
            },
        ),
    )
    origins = t.raw.get("upload_origins", [])
    if not isinstance(origins, list) or not all(
        isinstance(o, str) and urlsplit(o).scheme in ("http", "https") and urlsplit(o).hostname
        for o in origins
    ):
        raise CentralConfigError(
            f"{t.name('upload_origins')}: expected a list of origins like "
            '["https://kit-07.local"], got ' + repr(origins)
        )
    settings = dataclasses.replace(settings, upload_origins=tuple(o.rstrip("/") for o in origins))
    wilayah_file = t.path("wilayah_file", base_dir)
    if wilayah_file:
        settings = dataclasses.replace(settings, wilayah=load_wilayah(Path(wilayah_file)))
    listen = t.text("listen").strip()
    if not listen:
        return None
    where = _listen("web.listen", listen, "127.0.0.1:8480")
    return dataclasses.replace(settings, host=where.host, port=where.port)


def _with_nik_key(web: WebSettings | None, fhir: FhirSettings | None) -> WebSettings | None:
    """The worklist reveals a NIK with the key FHIR export already holds: one key file."""
    if web is None or fhir is None or fhir.nik_private_key is None:
        return web
    return dataclasses.replace(web, nik_private_key=fhir.nik_private_key)


def _log_level(raw: object) -> str:
    t = _Table("log", raw, ["level"])
    level = t.text("level", "INFO").upper()
    if level not in _LOG_LEVELS:
        raise CentralConfigError(f"log.level: {level!r} is not one of {', '.join(_LOG_LEVELS)}")
    return level


_SECTIONS = ("broker", "database", "fhir", "bundles", "metrics", "web", "log")


def parse_central_config(
    data: Mapping[str, Any], source: str = "<dict>", *, base_dir: Path | None = None
) -> CentralConfig:
    """Check a parsed TOML document. `base_dir`: where relative file names are taken from
    (the config file's directory; the working directory when None)."""
    base = base_dir or Path.cwd()
    for key in data:
        if key not in _SECTIONS:
            raise CentralConfigError(
                f"{key}: unknown section (known: {', '.join(sorted(_SECTIONS))})"
            )
    fhir, delivery = _fhir(data["fhir"], base) if "fhir" in data else (None, None)
    return CentralConfig(
        broker=_broker(data.get("broker", {}), base),
        database_url=_database(data.get("database", {})),
        fhir=fhir,
        delivery=delivery,
        metrics=_metrics(data.get("metrics", {})),
        web=_with_nik_key(_web(data.get("web", {}), base), fhir),
        bundles=_bundles(data.get("bundles", {}), base),
        log_level=_log_level(data.get("log", {})),
        source=source,
    )


def read_central_toml(path: str | Path) -> dict[str, Any]:
    """The file's TOML, unchecked (the CLI lays its flags over it before checking)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CentralConfigError(f"config file {path}: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CentralConfigError(f"config file {path}: not valid TOML: {exc}") from exc


def load_central_config(path: str | Path) -> CentralConfig:
    path = Path(path)
    return parse_central_config(
        read_central_toml(path), source=str(path), base_dir=path.resolve().parent
    )
