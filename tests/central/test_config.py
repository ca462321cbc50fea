"""Central's configuration file: every mistake names its key or file, flags win over the file,
and the real `gempita central --config FILE` runs from it against real mosquitto and SQLite."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker.pki import init_ca, issue
from central.config import (
    DEFAULT_SESSION_EXPIRY_S,
    CentralConfig,
    MetricsListen,
    load_central_config,
    parse_central_config,
)
from central.errors import CentralConfigError
from central.store import CentralStore
from core.payload import encode_reading
from gateway.cli import build_parser
from gateway.cli.central.options import apply_config, resolve_config
from tests.support.harness import make_reading
from tests.support.mosquitto import Mosquitto, TlsFiles
from tests.support.processes import ROOT, GempitaProcess

NIK_KEY_HEX = "11" * 32
SECRET = "s3cr3t-value-never-echoed"
TOPIC = "gempita/v1/gw-001/readings"


def _error(data: dict[str, Any], base_dir: Path | None = None) -> str:
    with pytest.raises(CentralConfigError) as info:
        parse_central_config(data, base_dir=base_dir)
    return str(info.value)


def _tls_files(tmp_path: Path) -> dict[str, str]:
    files = {}
    for key in ("ca_file", "cert_file", "key_file"):
        path = tmp_path / f"{key}.pem"
        path.write_text("x")
        files[key] = str(path)
    return files


def _delivery(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    (tmp_path / "client_id").write_text("  the-client-id\n")
    (tmp_path / "client_secret").write_text(f"{SECRET}\n")
    table: dict[str, Any] = {
        "base_url": "https://fhir.example/fhir-r4/v1/",
        "token_url": "https://fhir.example/oauth2/v1/accesstoken",
        "client_id_file": "client_id",  # relative: taken from the config file's directory
        "client_secret_file": "client_secret",
    }
    table.update(changes)
    return table


def test_defaults_keep_a_persistent_session_and_the_demo_database() -> None:
    config = parse_central_config({})
    assert config == CentralConfig(source="<dict>")
    settings = config.broker_settings
    assert settings.url == "mqtt://127.0.0.1:1883"
    assert settings.client_id == "central-1"
    # Clean start off (core/mqtt.py: clean_start = not session_expiry_s): restarts lose nothing.
    assert settings.session_expiry_s == DEFAULT_SESSION_EXPIRY_S == 14 * 24 * 3600
    assert config.database_url == "sqlite:///central.db"
    assert (config.fhir, config.delivery, config.metrics) == (None, None, None)


def test_a_full_file_builds_every_setting(tmp_path: Path) -> None:
    key_file = tmp_path / "central.key"
    key_file.write_text(NIK_KEY_HEX + "\n")
    config = parse_central_config(
        {
            "broker": {
                "url": "mqtts://broker.example:8883",
                "client_id": "central-2",
                "keepalive_s": 20,
                "session_expiry_s": 3600,
                **_tls_files(tmp_path),
            },
            "database": {"url": "postgresql+psycopg://gempita:pw@db.example/gempita"},
            "fhir": {
                "organization_id": "100012345",
                "location_id": "loc-1",
                "bp_profile": "panel",
                "subject_identifier": "nik",
                "nik_private_key_file": "central.key",
                "delivery": _delivery(tmp_path, batch_size=50, retry_cap_s=60),
            },
            "metrics": {"listen": "[::1]:9464"},
            "log": {"level": "debug"},
        },
        base_dir=tmp_path,
    )
    settings = config.broker_settings
    assert (settings.port, settings.tls, settings.keepalive_s) == (8883, True, 20)
    assert (settings.client_id, settings.session_expiry_s) == ("central-2", 3600)
    assert settings.key_file == str(tmp_path / "key_file.pem")
    assert config.fhir is not None
    assert config.fhir.nik_private_key == bytes.fromhex(NIK_KEY_HEX)
    assert (config.fhir.location_id, config.fhir.encounter_id) == ("loc-1", None)
    assert config.fhir.bp_profile == "panel"
    assert config.delivery is not None
    assert config.delivery.base_url == "https://fhir.example/fhir-r4/v1"
    assert config.delivery.client_id == "the-client-id"
    assert config.delivery.client_secret == SECRET
    assert (config.delivery.batch_size, config.delivery.retry_cap_s) == (50, 60.0)
    assert config.delivery.timeout_s == 30.0
    assert config.metrics == MetricsListen("::1", 9464)
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"brokr": {}}, "brokr: unknown section"),
        ({"broker": {"urll": "mqtt://x"}}, "broker.urll: unknown key"),
        (
            {"fhir": {"organization_id": "1", "delivery": {"tokenurl": "x"}}},
            "fhir.delivery.tokenurl: unknown key",
        ),
        ({"broker": {"url": "http://broker:1883"}}, "broker.url: 'http://broker:1883'"),
        ({"broker": {"url": "mqtt://broker:99999"}}, "broker.url: bad port"),
        ({"broker": {"keepalive_s": "30"}}, "broker.keepalive_s: expected a whole number"),
        ({"broker": {"session_expiry_s": 0}}, "broker.session_expiry_s: must be between 1"),
        ({"broker": {"client_id": "central 1"}}, "broker.client_id:"),
        ({"broker": {"url": "mqtts://broker:8883"}}, "broker.cert_file: required for mqtts"),
        ({"broker": {"cert_file": "/x.crt"}}, "broker.cert_file and broker.key_file"),
        ({"broker": []}, "[broker]: expected a table"),
        ({"database": {"url": "mysql://u@h/db"}}, "database.url: dialect 'mysql'"),
        ({"database": {"url": "postgresql://u@h/db"}}, "dialect 'postgresql' is not supported"),
        ({"database": {"url": "not a url"}}, "database.url: not a SQLAlchemy URL"),
        ({"database": {"url": "postgresql+psycopg://u@h"}}, "database.url: "),
        ({"fhir": {}}, "fhir.organization_id: required"),
        ({"fhir": {"organization_id": "1", "bp_profile": "both"}}, "fhir.bp_profile: 'both'"),
        (
            {"fhir": {"organization_id": "1", "subject_identifier": "nik"}},
            "fhir.nik_private_key_file: required when",
        ),
        (
            {"fhir": {"organization_id": "1", "pseudonym_system": "pseudonyms"}},
            "fhir.pseudonym_system:",
        ),
        ({"metrics": {"listen": "9464"}}, "metrics.listen: '9464' is not host:port"),
        ({"metrics": {"listen": "0.0.0.0:http"}}, "metrics.listen:"),
        ({"log": {"level": "LOUD"}}, "log.level: 'LOUD'"),
    ],
)
def test_every_mistake_names_its_key(data: dict[str, Any], named: str) -> None:
    assert named in _error(data)


def test_a_malformed_database_url_is_not_echoed() -> None:
    assert "hunter2" not in _error({"database": {"url": "postgresql+psycopg://u:hunter2@h:x/d"}})


def test_missing_tls_files_are_named(tmp_path: Path) -> None:
    files = _tls_files(tmp_path)
    files["key_file"] = str(tmp_path / "gone.key")
    message = _error({"broker": {"url": "mqtts://broker:8883", **files}})
    assert message.startswith("broker.key_file:") and "gone.key" in message


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"base_url": "http://fhir.example/fhir"}, "fhir.delivery.base_url: "),
        ({"token_url": "ftp://fhir.example/token"}, "fhir.delivery.token_url: "),
        ({"token_url": ""}, "fhir.delivery.token_url: required"),
        ({"client_secret_file": "nowhere"}, "fhir.delivery.client_secret_file: cannot read"),
        ({"client_id_file": ""}, "fhir.delivery.client_id_file: required"),
        ({"batch_size": 0}, "fhir.delivery.batch_size: must be between 1 and 1000"),
        ({"timeout_s": 0}, "fhir.delivery.timeout_s: must be more than 0"),
        ({"retry_initial_s": 60, "retry_cap_s": 5}, "fhir.delivery.retry_cap_s: must be at least"),
    ],
)
def test_delivery_mistakes_name_their_key(
    tmp_path: Path, changes: dict[str, Any], named: str
) -> None:
    data = {"fhir": {"organization_id": "1", "delivery": _delivery(tmp_path, **changes)}}
    message = _error(data, base_dir=tmp_path)
    assert named in message
    assert SECRET not in message


def test_delivery_to_this_machine_may_be_plain_http(tmp_path: Path) -> None:
    table = _delivery(
        tmp_path, base_url="http://127.0.0.1:8081/fhir", token_url="http://localhost:8081/t"
    )
    config = parse_central_config(
        {"fhir": {"organization_id": "1", "delivery": table}}, base_dir=tmp_path
    )
    assert config.delivery is not None and config.delivery.base_url == "http://127.0.0.1:8081/fhir"


def test_an_empty_secret_file_is_named_and_its_content_never_shown(tmp_path: Path) -> None:
    data = {"fhir": {"organization_id": "1", "delivery": _delivery(tmp_path)}}
    (tmp_path / "client_secret").write_text(" \n")
    message = _error(data, base_dir=tmp_path)
    assert message == (f"fhir.delivery.client_secret_file: {tmp_path / 'client_secret'} is empty")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("11" * 31, "must hold a 32-byte X25519 private key, it holds 31 bytes"),
        ("zz" * 32, "must hold the key as hex text"),
        ("", "is empty"),
    ],
)
def test_the_nik_key_file_is_checked(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / "central.key").write_text(content)
    fhir = {
        "organization_id": "1",
        "subject_identifier": "nik",
        "nik_private_key_file": str(tmp_path / "central.key"),
    }
    message = _error({"fhir": fhir})
    assert message.startswith("fhir.nik_private_key_file:") and named in message


def test_the_example_file_parses(tmp_path: Path) -> None:
    # The example names files under /etc/gempita-central; make them here and point it at them.
    text = (ROOT / "central.example.toml").read_text()
    etc = tmp_path / "etc"
    for name in (
        "ca.crt",
        "central.crt",
        "central.key",
        "satusehat/client_id",
        "satusehat/client_secret",
        "keys/central.key",
    ):
        (etc / name).parent.mkdir(parents=True, exist_ok=True)
        (etc / name).write_text("file content\n")
    copy = tmp_path / "central.toml"
    copy.write_text(text.replace("/etc/gempita-central/", f"{etc}/"))
    config = load_central_config(copy)
    assert config.source == str(copy)
    assert config.broker.url.startswith("mqtts://")
    assert config.broker.session_expiry_s == DEFAULT_SESSION_EXPIRY_S
    assert config.database_url.startswith("postgresql+psycopg://")
    assert config.fhir is not None and config.fhir.subject_identifier == "pseudonym"
    assert config.delivery is not None and config.delivery.client_secret == "file content"
    assert config.metrics is None
    assert config.bundles.x25519_key_file == str(etc / "keys/central.key")


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["central", *argv])


def test_flags_override_the_file_and_the_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "central.toml"
    path.write_text(
        '[broker]\nurl = "mqtt://broker.example:1883"\nclient_id = "from-file"\n'
        '[database]\nurl = "sqlite:///file.db"\n[log]\nlevel = "WARNING"\n'
    )
    args = _args("--config", str(path), "--client-id", "from-flag", "--db", "sqlite:///flag.db")
    apply_config(args, default_path=tmp_path / "absent.toml")
    config: CentralConfig = args.central_config
    assert config.broker.url == "mqtt://broker.example:1883"  # the file's
    assert config.broker.client_id == "from-flag"  # the flag's
    assert config.broker.keepalive_s == 30  # the default
    assert (args.db, args.log_level) == ("sqlite:///flag.db", "WARNING")


def test_a_bad_flag_is_reported_under_its_key(tmp_path: Path) -> None:
    with pytest.raises(CentralConfigError, match=r"^broker\.url: 'tcp://x'"):
        resolve_config(_args("--broker", "tcp://x"), default_path=tmp_path / "absent.toml")


def test_the_default_file_is_read_only_when_it_exists(tmp_path: Path) -> None:
    default = tmp_path / "central.toml"
    assert resolve_config(_args(), default_path=default).source == "<defaults>"
    default.write_text('[broker]\nclient_id = "central-9"\n')
    config = resolve_config(_args(), default_path=default)
    assert (config.source, config.broker.client_id) == (str(default), "central-9")


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "central", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[broker]\nurll = "mqtt://x"\n', "configuration: broker.urll: unknown key"),
        ('[database]\nurl = "mysql://u@h/db"\n', "configuration: database.url: dialect"),
        (
            '[broker]\nurl = "mqtts://b:8883"\ncert_file = "c.crt"\nkey_file = "gone.key"\n',
            "configuration: broker.key_file: file",
        ),
    ],
)
def test_the_real_cli_exits_2_naming_the_key(tmp_path: Path, toml: str, named: str) -> None:
    (tmp_path / "c.crt").write_text("x")
    path = tmp_path / "central.toml"
    path.write_text(toml)
    result = _cli("--config", str(path))
    assert result.returncode == 2, result
    assert named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_explicit_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = _cli("--config", str(tmp_path / "nowhere.toml"))
    assert result.returncode == 2
    assert f"configuration: config file {tmp_path / 'nowhere.toml'}:" in result.stderr


def test_help_explains_the_config() -> None:
    result = _cli("--help")
    assert result.returncode == 0
    for text in (
        "--config FILE",
        "/etc/gempita-central/central.toml",
        "central.example.toml",
        "precedence",
        "[fhir.delivery]",
        "session_expiry_s",
    ):
        assert text in result.stdout, text


def _wait_stored(db: Path, ids: set[str], central: GempitaProcess) -> None:
    store = CentralStore(f"sqlite:///{db}")
    try:
        deadline = time.monotonic() + 60
        while store.ids() != ids:
            assert time.monotonic() < deadline, (
                f"stored {store.ids()}, want {ids}\n{central.text()}"
            )
            time.sleep(0.05)
    finally:
        store.close()


def _client(port: int, tls: Path | None = None) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    if tls is not None:
        client.tls_set(str(tls / "ca.crt"), str(tls / "gw-001.crt"), str(tls / "gw-001.key"))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def test_central_runs_from_its_config_file_and_its_session_outlives_a_restart(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    db = tmp_path / "central.db"
    path = tmp_path / "central.toml"
    path.write_text(
        f'[broker]\nurl = "{mosquitto.url}"\nclient_id = "central-from-file"\n'
        f'[database]\nurl = "sqlite:///{db}"\n[log]\nlevel = "INFO"\n'
    )
    receipts: list[str] = []
    lock = threading.Lock()

    def on_message(_c: object, _u: object, msg: paho.MQTTMessage) -> None:
        with lock:
            receipts.extend(json.loads(msg.payload)["ids"])

    client = _client(mosquitto.port)
    client.on_message = on_message
    client.subscribe("gempita/v1/gw-001/receipts", qos=1)
    central = GempitaProcess(["central", "--config", str(path)], tmp_path / "central.log")
    central.start()
    try:
        central.wait_for_log("central subscribed", timeout=60)
        assert f"configuration {path}" in central.text()
        first, second = make_reading(1), make_reading(2)
        client.publish(TOPIC, encode_reading(first), qos=1).wait_for_publish(10)
        _wait_stored(db, {first.id}, central)
        deadline = time.monotonic() + 30
        while first.id not in receipts:
            assert time.monotonic() < deadline, "no receipt for the stored reading"
            time.sleep(0.05)
        assert central.stop() == 0, central.text()
        # Published while no central runs: only the session the file's session expiry kept
        # at the broker (clean start off) brings it to the next central.
        client.publish(TOPIC, encode_reading(second), qos=1).wait_for_publish(10)
        central = GempitaProcess(["central", "--config", str(path)], tmp_path / "central2.log")
        central.start()
        _wait_stored(db, {first.id, second.id}, central)
    finally:
        client.loop_stop()
        client.disconnect()
        assert central.stop() == 0, central.text()


def test_central_connects_over_tls_with_the_files_its_config_names(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    init_ca(pki)
    issue(pki, "broker", server=True, hosts=("127.0.0.1", "localhost"))
    for name in ("central", "gw-001"):
        issue(pki, name)
    workdir = tmp_path / "tls-broker"
    workdir.mkdir()
    broker = Mosquitto(
        workdir,
        tls=TlsFiles(pki / "ca.crt", pki / "broker.crt", pki / "broker.key"),
        acl=ROOT / "broker" / "gempita.acl",
    )
    broker.start()
    db = tmp_path / "central.db"
    path = tmp_path / "central.toml"
    # Relative names: taken from the config file's directory, not central's working one.
    path.write_text(
        f'[broker]\nurl = "{broker.url}"\nca_file = "pki/ca.crt"\n'
        'cert_file = "pki/central.crt"\nkey_file = "pki/central.key"\n'
        f'[database]\nurl = "sqlite:///{db}"\n'
    )
    central = GempitaProcess(["central", "-c", str(path)], tmp_path / "central.log").start()
    client = _client(broker.port, tls=pki)
    try:
        central.wait_for_log("central subscribed", timeout=60)
        reading = make_reading(3)
        client.publish(TOPIC, encode_reading(reading), qos=1).wait_for_publish(10)
        _wait_stored(db, {reading.id}, central)
    finally:
        client.loop_stop()
        client.disconnect()
        central.stop()
        broker.stop()


def test_the_bundles_table_is_checked_and_relative_to_the_file(tmp_path: Path) -> None:
    for name in ("ca.crt", "central.crt", "central.key", "central.x25519"):
        (tmp_path / name).write_text("x")
    table = {
        "ca_file": "ca.crt",
        "cert_file": "central.crt",
        "key_file": "central.key",
        "x25519_key_file": "central.x25519",
    }
    config = parse_central_config({"bundles": table}, base_dir=tmp_path)
    assert config.bundles.x25519_key_file == str(tmp_path / "central.x25519")
    assert config.bundles.cert_file == str(tmp_path / "central.crt")
    assert parse_central_config({}).bundles.ca_file == ""  # the service does not need them
    assert _error({"bundles": {"cafile": "x"}}).startswith("bundles.cafile: unknown key")
    assert _error({"bundles": {"cert_file": "c"}}, tmp_path).startswith(
        "bundles.cert_file and bundles.key_file"
    )
    missing = _error({"bundles": {**table, "x25519_key_file": "gone"}}, tmp_path)
    assert missing.startswith(f"bundles.x25519_key_file: file {tmp_path / 'gone'} does not")
