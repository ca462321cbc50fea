"""Options every `gempita central` command shares, and how they meet the config file.

They are declared on `gempita central` itself and again on each of its commands with a
suppressed default, so `gempita central --db URL status` and `gempita central status --db URL`
mean the same: a command's parser sets only what was written after the command's name.

Precedence, highest first: a flag written on the command line, then the config file
(`--config FILE`, else DEFAULT_CONFIG when it exists), then the built-in defaults. Flags are
laid over the file's TOML before it is checked, so a bad `--broker` is reported like a bad
`broker.url`, under that name.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # central.config imports SQLAlchemy: not for `--help`
    from central.config import CentralConfig

DEFAULT_CONFIG = Path("/etc/gempita-central/central.toml")
DEFAULT_DB = "sqlite:///central.db"

# Flag (argparse dest) -> (table, key) of the config file it overrides.
FLAG_KEYS: dict[str, tuple[str, str]] = {
    "db": ("database", "url"),
    "log_level": ("log", "level"),
    "broker": ("broker", "url"),
    "client_id": ("broker", "client_id"),
    "ca_file": ("broker", "ca_file"),
    "cert_file": ("broker", "cert_file"),
    "key_file": ("broker", "key_file"),
    "metrics_listen": ("metrics", "listen"),
    "web_listen": ("web", "listen"),
    # `gempita central import` only: its --ca-file/--cert/--key are the bundle keys, not
    # the broker's, so they get their own dests.
    "bundles_ca_file": ("bundles", "ca_file"),
    "bundles_cert_file": ("bundles", "cert_file"),
    "bundles_key_file": ("bundles", "key_file"),
    "bundles_x25519_key_file": ("bundles", "x25519_key_file"),
}
_PATH_FLAGS = {
    "ca_file",
    "cert_file",
    "key_file",
    "bundles_ca_file",
    "bundles_cert_file",
    "bundles_key_file",
    "bundles_x25519_key_file",
}

CONFIG_EPILOG = f"""\
configuration:
  Central reads one TOML file: --config FILE, else {DEFAULT_CONFIG}
  when it exists, else built-in defaults (database {DEFAULT_DB}, broker
  mqtt://127.0.0.1:1883). Its tables:
    [broker]         url (mqtt:// or mqtts://), client_id (one per instance), ca_file,
                     cert_file, key_file (from `gempita pki central`), keepalive_s,
                     session_expiry_s (default 14 days: the broker keeps central's
                     queue while it restarts)
    [database]       url: postgresql+psycopg://user@host/db (a city) or sqlite:///file
    [fhir]           organization_id, location_id, encounter_id, bp_profile,
                     subject_identifier, pseudonym_system, nik_private_key_file
    [fhir.delivery]  base_url, token_url, client_id_file, client_secret_file, batch_size,
                     timeout_s, retry_initial_s, retry_cap_s (present: delivery is on)
    [bundles]        ca_file, cert_file, key_file, x25519_key_file: what
                     `gempita central import` verifies, decrypts and signs receipts with
    [metrics]        listen = "host:port" (absent: no /metrics)
    [web]            listen = "host:port" (absent: no staff web app), secure_cookies,
                     session_idle_s, login_max_failures, login_window_s, login_lockout_s
    [log]            level
  Every key is explained in central.example.toml at the top of the source tree. An
  unknown key, a bad value or a missing file stops central with exit status 2 and a
  message naming the key.

precedence (highest first):
  1. a flag on the command line (--db, --log-level, --broker, --client-id, --ca-file,
     --cert-file, --key-file, --metrics-listen, --web-listen; for `import`: --ca-file,
     --cert, --key, --x25519-key over [bundles])
  2. the config file
  3. the built-in defaults
"""


def add_shared(parser: argparse.ArgumentParser, *, on_command: bool = True) -> None:
    def default(value: str | None) -> str | None:
        return argparse.SUPPRESS if on_command else value

    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=default(None),
        help=f"central's TOML configuration (default {DEFAULT_CONFIG} if it exists; "
        "see central.example.toml)",
    )
    parser.add_argument(
        "--db",
        default=default(None),
        help=f"SQLAlchemy database URL, overrides database.url (default {DEFAULT_DB}; for a "
        "city postgresql+psycopg://user@host/db)",
    )
    parser.add_argument(
        "--log-level",
        default=default(None),
        help="DEBUG, INFO, WARNING or ERROR, overrides log.level (default INFO)",
    )


def resolve_config(args: argparse.Namespace, default_path: Path = DEFAULT_CONFIG) -> CentralConfig:
    """The checked configuration: the file (if any) with the flags written laid over it."""
    from central.config import parse_central_config, read_central_toml

    explicit = getattr(args, "config", None)
    path = Path(explicit) if explicit else default_path if default_path.is_file() else None
    data: dict[str, Any] = read_central_toml(path) if path is not None else {}
    for dest, (table, key) in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        section = data.setdefault(table, {})
        if isinstance(section, dict):  # not a table: the check below names it
            # The file's relative names are taken from its directory, a flag's from here.
            section[key] = os.path.abspath(value) if dest in _PATH_FLAGS else value
    return parse_central_config(
        data,
        source=str(path) if path is not None else "<defaults>",
        base_dir=path.resolve().parent if path is not None else None,
    )


def apply_config(args: argparse.Namespace, default_path: Path = DEFAULT_CONFIG) -> None:
    """Resolve the configuration into `args`: `central_config`, and `db` and `log_level`
    as a command that reads only those expects them."""
    config = resolve_config(args, default_path)
    args.central_config = config
    args.db = config.database_url
    args.log_level = config.log_level
