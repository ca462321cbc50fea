"""A small PKI for a Gempita deployment: one CA, a broker server certificate, and one client
certificate per gateway (CN = gateway id, which mosquitto's `use_identity_as_username` turns
into the user name the ACL pins to `gempita/v1/<id>/#`) and for central.

Keys are ECDSA P-256 (small, fast on a Pi); private keys are written 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class PkiError(Exception):
    """Root of PKI errors (missing CA, bad name)."""


@dataclass(frozen=True, slots=True)
class Issued:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def init_ca(directory: Path, name: str = "Gempita Edge CA", days: int = 3650) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if cert_path.exists() or key_path.exists():
        raise PkiError(f"{directory} already holds a CA; refusing to overwrite it")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return Issued(cert_path, key_path)


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    except FileNotFoundError as exc:
        raise PkiError(f"no CA in {directory}: run `gempita pki init --dir {directory}`") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{directory / 'ca.key'} is not an EC key made by `gempita pki init`")
    return cert, key


def _dns_name(host: str) -> str:
    labels = host.rstrip(".").split(".")
    if not host or not all(
        label and len(label) <= 63 and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    ):
        raise PkiError(f"{host!r} is neither an IP address nor a DNS name like kit-07.local")
    return host.rstrip(".")


# A kit's HTTPS certificate is renewed yearly: 397 days is under every browser's cap on a
# server certificate's lifetime, so no phone refuses it for being too long-lived.
KIOSK_DAYS = 397


def issue_kiosk(
    directory: Path,
    name: str,
    *,
    ips: tuple[str, ...] = (),
    dns: tuple[str, ...] = (),
    days: int = KIOSK_DAYS,
) -> Issued:
    """The kit's HTTPS server certificate: the addresses a kader's phone opens it by (the
    kit's Wi-Fi IP, its local name) as subjectAltName, serverAuth, signed by the CA the phones
    trust. Browsers match the address against subjectAltName only, never the CN."""
    if not ips and not dns:
        raise PkiError("a kiosk certificate needs the kit's address: --ip 10.42.0.1 and/or --dns")
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError as exc:
            raise PkiError(f"--ip {ip!r}: not an IP address (a name goes in --dns)") from exc
    for host in dns:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            _dns_name(host)
        else:
            raise PkiError(f"--dns {host!r}: an IP address goes in --ip")
    return issue(directory, name, server=True, hosts=(*ips, *dns), days=days)


def issue(
    directory: Path,
    common_name: str,
    *,
    server: bool = False,
    hosts: tuple[str, ...] = (),
    days: int = 825,
) -> Issued:
    """Issue a client (gateway/central) or server (broker) certificate signed by the CA."""
    if not common_name or not all(c.isalnum() or c in "-_." for c in common_name):
        raise PkiError(f"certificate name {common_name!r}: use letters, digits, '-', '_', '.'")
    ca_cert, ca_key = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = []
        for host in hosts or ("localhost", "127.0.0.1"):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(_dns_name(host)))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        # Browsers check the key usage of a TLS server certificate, not only its EKU: an
        # ECDSA key signs the handshake, so digital_signature is the one it needs.
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = directory / f"{common_name}.crt", directory / f"{common_name}.key"
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return Issued(cert_path, key_path)
