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
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.config import Config
from gateway.errors import ConfigError

if TYPE_CHECKING:
    from gateway.service import Gateway
    from kiosk.deps import KioskSettings

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


def make_binder(gateway_clock: Any) -> Any:
    from kiosk.binding import SessionBinder

    return SessionBinder(gateway_clock)


def _build_app(gateway: Gateway) -> Any:
    from kiosk.app import create_app
    from kiosk.binding import SessionBinder
    from kiosk.deps import KioskDeps

    binder = gateway.binder
    if not isinstance(binder, SessionBinder):
        raise ConfigError("kiosk: the gateway was started without the kiosk's binder")

    def start_pairing() -> str:
        return (
            "Pairing runs on the kiosk's terminal: `gempita devices scan`, then "
            "`gempita devices pair ADDRESS [--passkey PIN]` (README, 'Pairing a meter')."
        )

    deps = KioskDeps(
        settings=gateway.kiosk_settings,
        binder=binder,
        events=gateway.events,
        sync_state=lambda: dict(gateway.status_snapshot()["outbox"]),
        device_status=lambda: [d.as_dict() for d in gateway.devices.values()],
        request_measurement=gateway.measurement_hook,
        # Read-only, on the outbox's DB thread: the kader pages' stored/sent/confirmed.
        reading_states=gateway.outbox.states,
        start_pairing=start_pairing,
    )
    return create_app(deps)


async def serve_kiosk(gateway: Gateway) -> None:
    import uvicorn

    class _Server(uvicorn.Server):
        # The gateway owns SIGTERM/SIGINT (it stops devices, then the outbox, in order).
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = _build_app(gateway)
    kiosk = gateway.config.kiosk
    server = _Server(
        uvicorn.Config(
            app,
            host=kiosk.host,
            port=kiosk.port,
            log_config=None,
            access_log=False,  # request paths can carry session ids; keep them out of logs
            ws="none",
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve(), name="kiosk-http")
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        raise
