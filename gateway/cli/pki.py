"""`gempita pki`: the CA and certificates for broker, gateways and central."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.output import (
    EXIT_OK,
    Subcommands,
    fail,
)


def cmd_pki(args: argparse.Namespace) -> int:
    from broker.pki import PkiError, init_ca, issue, issue_kiosk

    directory = Path(args.dir)
    try:
        if args.pki_command == "init":
            made = init_ca(directory)
            print(f"CA created: {made.cert} (key {made.key}, keep it offline)")
        elif args.pki_command == "gateway":
            made = issue(directory, args.gateway_id)
            print(f"gateway certificate: {made.cert} key: {made.key}")
        elif args.pki_command == "central":
            made = issue(directory, args.name)
            print(f"central certificate: {made.cert} key: {made.key}")
        elif args.pki_command == "kiosk":
            made = issue_kiosk(
                directory,
                args.name,
                ips=tuple(args.ip or ()),
                dns=tuple(args.dns or ()),
                days=args.days,
            )
            print(f"kiosk HTTPS certificate: {made.cert} key: {made.key}")
            print(
                f"set [kiosk] tls_cert_file / tls_key_file to them; install {directory / 'ca.crt'}"
                " on the kader phones as a CA certificate"
            )
        else:
            made = issue(directory, args.name, server=True, hosts=tuple(args.host or ()))
            print(f"broker certificate: {made.cert} key: {made.key}")
    except PkiError as exc:
        return fail(str(exc))
    return EXIT_OK


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
    p = sub.add_parser(
        "pki",
        help="make the CA and certificates for broker, gateways and central",
        description="A small PKI: `init` makes the CA; `gateway ID` issues a gateway client "
        "certificate with CN=ID (the broker ACL pins it to gempita/v1/ID/...); `central` and "
        "`broker` issue the central client and broker server certificates; `kiosk NAME --ip "
        "IP --dns NAME` the kit's HTTPS certificate for the kader phones.",
    )
    p.add_argument("--dir", default="pki", help="directory holding ca.crt/ca.key (default ./pki)")
    pki_sub = p.add_subparsers(dest="pki_command", metavar="ACTION", required=True)
    pki_sub.add_parser("init", help="create the CA")
    g = pki_sub.add_parser("gateway", help="issue a gateway certificate")
    g.add_argument("gateway_id", help="the gateway id, e.g. gw-001 (becomes the CN)")
    c = pki_sub.add_parser("central", help="issue the central certificate")
    c.add_argument("--name", default="central", help="CN (default central, as in the ACL)")
    b = pki_sub.add_parser("broker", help="issue the broker's server certificate")
    b.add_argument("--name", default="broker", help="CN (default broker)")
    b.add_argument("--host", action="append", help="DNS name or IP of the broker (repeatable)")
    k = pki_sub.add_parser(
        "kiosk",
        help="issue the kiosk's HTTPS certificate (the kader phones' carry page needs HTTPS)",
    )
    k.add_argument("name", help="CN and file name, e.g. kit-07-kiosk (writes NAME.crt/.key)")
    k.add_argument("--ip", action="append", help="the kit's IP on its Wi-Fi (repeatable)")
    k.add_argument("--dns", action="append", help="a DNS name of the kit (repeatable)")
    k.add_argument(
        "--days", type=int, default=397, help="validity in days (default 397: renew yearly)"
    )
    p.set_defaults(handler=cmd_pki)
