"""`gempita central users add|list|passwd|disable`: the staff accounts of the web app."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.central.options import add_shared
from gateway.cli.output import EXIT_OK, Subcommands, fail

if TYPE_CHECKING:  # SQLAlchemy is not for `--help`
    from central.store import CentralStore
    from central.web.accounts import AccountStore

EXIT_USAGE = 2


def register(sub: Subcommands) -> None:
    p = sub.add_parser(
        "users",
        help="staff accounts of the web app (add, list, passwd, disable)",
        description="Accounts for central's web app. Roles: dinkes (the whole city, and the "
        "audit log), puskesmas (one Puskesmas: --puskesmas and the kelurahan of its wilayah "
        "with --wilayah), coordinator (a kader coordinator: --wilayah). Passwords are asked "
        "twice on the terminal, or read from --password-file (its first line).",
    )
    add_shared(p)
    actions = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="make an account")
    add_shared(add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["dinkes", "puskesmas", "coordinator"])
    add.add_argument("--puskesmas", metavar="ID", help="the Puskesmas (role puskesmas)")
    add.add_argument(
        "--wilayah",
        metavar="CODES",
        default="",
        help="comma-separated 10-digit kelurahan codes the account may see, e.g. "
        "6471011001,6471011002 (roles puskesmas and coordinator)",
    )
    add.add_argument("--password-file", metavar="FILE", help="read the password from FILE")
    add.set_defaults(handler=cmd_users_add)

    listing = actions.add_parser("list", help="list the accounts")
    add_shared(listing)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_users_list)

    passwd = actions.add_parser("passwd", help="set a new password (ends its sessions)")
    add_shared(passwd)
    passwd.add_argument("username")
    passwd.add_argument("--password-file", metavar="FILE", help="read the password from FILE")
    passwd.set_defaults(handler=cmd_users_passwd)

    disable = actions.add_parser("disable", help="stop an account signing in (kept for audit)")
    add_shared(disable)
    disable.add_argument("username")
    disable.set_defaults(handler=cmd_users_disable)


class _NoPassword(Exception):
    pass


def _password(args: argparse.Namespace) -> str:
    path = getattr(args, "password_file", None)
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise _NoPassword(f"--password-file {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise _NoPassword(f"--password-file {path}: not UTF-8 text") from exc
        if not lines or not lines[0]:
            raise _NoPassword(f"--password-file {path}: the first line is empty")
        return lines[0]
    if not sys.stdin.isatty():
        raise _NoPassword("no terminal to ask the password on: give --password-file FILE")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise _NoPassword("the two passwords differ; nothing was changed")
    return first


def _accounts(args: argparse.Namespace) -> tuple[CentralStore, AccountStore]:
    from central.store import CentralStore
    from central.web.accounts import AccountStore

    # Opening the store migrates the schema to head: the account tables exist after it.
    store = CentralStore(args.db)
    return store, AccountStore(store.engine, time.time)


def cmd_users_add(args: argparse.Namespace) -> int:
    from central.web.errors import AccountError

    try:
        password = _password(args)
    except _NoPassword as exc:
        return fail(str(exc), EXIT_USAGE)
    store, accounts = _accounts(args)
    try:
        wilayah = [c for c in args.wilayah.split(",") if c.strip()]
        principal = accounts.add(
            args.username,
            password,
            args.role,
            puskesmas_id=args.puskesmas,
            wilayah=wilayah,
        )
    except AccountError as exc:
        return fail(str(exc), EXIT_USAGE)
    finally:
        store.close()
    print(f"added {principal.username} ({principal.role.value})")
    return EXIT_OK


def cmd_users_passwd(args: argparse.Namespace) -> int:
    from central.web.errors import AccountError

    try:
        password = _password(args)
    except _NoPassword as exc:
        return fail(str(exc), EXIT_USAGE)
    store, accounts = _accounts(args)
    try:
        accounts.set_password(args.username, password)
    except AccountError as exc:
        return fail(str(exc), EXIT_USAGE)
    finally:
        store.close()
    print(f"password of {args.username.strip().lower()} changed; its sessions ended")
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    from central.web.errors import AccountError

    store, accounts = _accounts(args)
    try:
        accounts.disable(args.username)
    except AccountError as exc:
        return fail(str(exc), EXIT_USAGE)
    finally:
        store.close()
    print(f"disabled {args.username.strip().lower()}; its sessions ended")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    store, accounts = _accounts(args)
    try:
        found = accounts.list()
    finally:
        store.close()
    rows = [
        {
            "username": a.principal.username,
            "role": a.principal.role.value,
            "puskesmas": a.principal.puskesmas_id,
            "wilayah": sorted(a.principal.wilayah),
            "disabled": a.disabled,
        }
        for a in found
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no accounts (add one: gempita central users add NAME --role dinkes)")
    for a in found:
        p = a.principal
        state = " (disabled)" if a.disabled else ""
        where = f" puskesmas={p.puskesmas_id}" if p.puskesmas_id else ""
        areas = f" wilayah={','.join(sorted(p.wilayah))}" if p.wilayah else ""
        print(f"{p.username}\t{p.role.value}{where}{areas}{state}")
    return EXIT_OK
