"""HTTPS on the kiosk, so a kader's phone gets a secure context (and the carry page its
service worker): the [kiosk] TLS keys, `gempita pki kiosk`, and the real gateway process
serving the kiosk over TLS that a client verifies against the deployment CA."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from broker.pki import PkiError, init_ca, issue, issue_kiosk
from gateway.config import load_config, parse_config
from gateway.errors import ConfigError
from tests.bundle.keys import make_keys
from tests.kiosk_e2e.helpers import PROGRAMME_KEY, admin_hash
from tests.support.mosquitto import free_port
from tests.support.processes import ROOT, gateway_process


@pytest.fixture
def kiosk_cert(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, cert, key): a CA and a kiosk certificate for 127.0.0.1 and localhost."""
    directory = tmp_path / "pki"
    init_ca(directory)
    made = issue_kiosk(directory, "kit-07-kiosk", ips=("127.0.0.1",), dns=("localhost",))
    return directory / "ca.crt", made.cert, made.key


def kiosk(**keys: Any) -> dict[str, Any]:
    return {"kiosk": {"enabled": False, **keys}}


# --- [kiosk] tls_cert_file / tls_key_file ------------------------------------------------


def test_both_files_turn_https_on(kiosk_cert: tuple[Path, Path, Path]) -> None:
    _ca, cert, key = kiosk_cert
    config = parse_config(kiosk(tls_cert_file=str(cert), tls_key_file=str(key)))
    assert (config.kiosk.tls_cert_file, config.kiosk.tls_key_file) == (str(cert), str(key))
    assert config.kiosk.scheme == "https"
    assert parse_config({}).kiosk.scheme == "http"


@pytest.mark.parametrize("given", ["tls_cert_file", "tls_key_file"])
def test_one_without_the_other_is_refused(kiosk_cert: tuple[Path, Path, Path], given: str) -> None:
    _ca, cert, key = kiosk_cert
    path = cert if given == "tls_cert_file" else key
    with pytest.raises(ConfigError, match=r"tls_cert_file and kiosk\.tls_key_file must be given"):
        parse_config(kiosk(**{given: str(path)}))


@pytest.mark.parametrize("key", ["tls_cert_file", "tls_key_file"])
def test_a_missing_file_is_named(
    kiosk_cert: tuple[Path, Path, Path], tmp_path: Path, key: str
) -> None:
    _ca, cert, private = kiosk_cert
    files = {"tls_cert_file": str(cert), "tls_key_file": str(private)}
    files[key] = str(tmp_path / "nowhere.pem")
    with pytest.raises(ConfigError) as caught:
        parse_config(kiosk(**files))
    message = str(caught.value)
    assert message.startswith(f"kiosk.{key}: cannot read {tmp_path / 'nowhere.pem'}"), message


def test_an_unreadable_file_is_named(kiosk_cert: tuple[Path, Path, Path], tmp_path: Path) -> None:
    # Tests run as root here, where mode 000 still reads: a directory cannot be read as a file
    # by anyone, the same failure a wrong path in the config gives.
    _ca, cert, _key = kiosk_cert
    (tmp_path / "keydir").mkdir()
    with pytest.raises(ConfigError, match=r"^kiosk\.tls_key_file: cannot read .*keydir"):
        parse_config(kiosk(tls_cert_file=str(cert), tls_key_file=str(tmp_path / "keydir")))


def test_tls_port_must_differ_from_the_http_port(kiosk_cert: tuple[Path, Path, Path]) -> None:
    _ca, cert, key = kiosk_cert
    files = {"tls_cert_file": str(cert), "tls_key_file": str(key)}
    assert parse_config(kiosk(**files)).kiosk.tls_port == 8443
    with pytest.raises(ConfigError, match=r"^kiosk\.tls_port: 8080 must be .* other than"):
        parse_config(kiosk(**files, port=8080, tls_port=8080))
    with pytest.raises(ConfigError, match=r"^kiosk\.tls_port: 0 must be"):
        parse_config(kiosk(**files, tls_port=0))


def test_a_key_that_is_not_the_certificates_is_refused(
    kiosk_cert: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _ca, cert, _key = kiosk_cert
    other = issue(tmp_path / "pki", "someone-else")
    with pytest.raises(ConfigError, match="not a PEM certificate and its key"):
        parse_config(kiosk(tls_cert_file=str(cert), tls_key_file=str(other.key)))
    (tmp_path / "garbage.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="gempita pki kiosk"):
        parse_config(kiosk(tls_cert_file=str(tmp_path / "garbage.pem"), tls_key_file=str(cert)))


def test_gempita_run_stops_with_exit_2_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[gateway]\nstate_dir = "{tmp_path}"\n[kiosk]\n'
        f'tls_cert_file = "{tmp_path / "kiosk.crt"}"\ntls_key_file = "{tmp_path / "kiosk.key"}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"kiosk.tls_cert_file: cannot read {tmp_path / 'kiosk.crt'}" in done.stderr


# --- `gempita pki kiosk` --------------------------------------------------------------------


def test_pki_kiosk_issues_a_server_certificate_a_phone_accepts(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    assert run_pki(directory, "init").returncode == 0
    done = run_pki(directory, "kiosk", "kit-07-kiosk", "--ip", "10.42.0.1", "--dns", "kit-07.local")
    assert done.returncode == 0, done.stderr
    assert "tls_cert_file" in done.stdout and "ca.crt" in done.stdout
    cert = x509.load_pem_x509_certificate((directory / "kit-07-kiosk.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)  # raises if the CA did not sign it
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.42.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["kit-07.local"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days <= 398, lifetime  # under the browsers' cap on server certificates
    key_mode = (directory / "kit-07-kiosk.key").stat().st_mode & 0o777
    assert key_mode == 0o600, oct(key_mode)


def test_pki_kiosk_refuses_a_certificate_without_an_address(tmp_path: Path) -> None:
    init_ca(tmp_path)
    with pytest.raises(PkiError, match="--ip"):
        issue_kiosk(tmp_path, "kit")
    with pytest.raises(PkiError, match="not an IP address"):
        issue_kiosk(tmp_path, "kit", ips=("kit-07.local",))
    with pytest.raises(PkiError, match="an IP address goes in --ip"):
        issue_kiosk(tmp_path, "kit", dns=("10.42.0.1",))
    with pytest.raises(PkiError, match="neither an IP address nor a DNS name"):
        issue_kiosk(tmp_path, "kit", dns=("kit 07",))
    done = run_pki(tmp_path, "kiosk", "kit")
    assert done.returncode != 0 and "--ip" in done.stderr
    assert not (tmp_path / "kit.crt").exists()


def run_pki(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "pki", "--dir", str(directory), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- the real gateway serving the kiosk over HTTPS ------------------------------------------


@pytest.mark.slow
def test_the_gateway_serves_the_kiosk_over_https_trusted_by_the_ca(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "pki", gateway_id="gw-tls")
    made = issue_kiosk(keys.directory, "gw-tls-kiosk", ips=("127.0.0.1",))
    (tmp_path / "programme.key").write_text(PROGRAMME_KEY.hex())
    port, tls_port = free_port(), free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
[gateway]
id = "gw-tls"
state_dir = "{tmp_path}"

[mqtt]
url = "mqtt://127.0.0.1:{free_port()}"

[kiosk]
enabled = true
host = "127.0.0.1"
port = {port}
tls_port = {tls_port}
tls_cert_file = "{made.cert}"
tls_key_file = "{made.key}"

[kiosk.settings]
programme_key_file = "{tmp_path / "programme.key"}"
central_public_key_file = "{keys.x25519_pub_file}"
admin_password_hash = "{admin_hash()}"
puskesmas_name = "Puskesmas Karang Jati"
puskesmas_address = "Jl. Mayjen Sutoyo, Balikpapan Tengah"
bp_device = ""
glucose_device = ""
central_upload_url = "https://central.example/api/bundles"
""")
    assert load_config(config).kiosk.scheme == "https"
    trusted = ssl.create_default_context(cafile=str(keys.directory / "ca.crt"))
    url = f"https://127.0.0.1:{tls_port}/kader/bawa/"
    gateway = gateway_process(config, tmp_path / "gateway.log").start()
    try:
        gateway.wait_for_log(f"kiosk serving https://127.0.0.1:{tls_port}", timeout=60)
        answer = fetch_when_up(url, trusted, gateway.text)
        assert answer.status_code == 200
        assert "Bawa data ke pusat" in answer.text
        # The trust is real: without the deployment CA the same server is refused, and
        # plain http to the TLS port gets no page.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, verify=ssl.create_default_context(), timeout=10)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{tls_port}/kader/bawa/", timeout=10).raise_for_status()
        # Plain http stays on `port`: the captive portal's probes speak http.
        plain = httpx.get(f"http://127.0.0.1:{port}/kader/bawa/", timeout=10)
        assert plain.status_code == 200 and "Bawa data ke pusat" in plain.text
    finally:
        assert gateway.stop() == 0, gateway.text()[-4000:]


def fetch_when_up(url: str, trusted: ssl.SSLContext, log: Any) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, verify=trusted, timeout=10)
        except httpx.ConnectError as exc:
            if "CERTIFICATE" in str(exc) or time.monotonic() > deadline:
                raise AssertionError(f"{url}: {exc}\n{log()[-4000:]}") from exc
            time.sleep(0.2)
