"""`gempita` — the command line of Gempita Edge.

Each sub-command has its own `--help`. Heavy imports (bleak, FastAPI, Alembic) happen inside
the command that needs them, so `gempita run` is ready fast and `--help` is instant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import CoreError
from gateway import __version__
from gateway.errors import ConfigError

if TYPE_CHECKING:  # the demo's types only; simulators are imported where they are used
    from simulators.ble.resident import Chosen

_LOGGER = logging.getLogger("gempita")
DEFAULT_CONFIG = "/etc/gempita/gateway.toml"

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _fail(message: str, code: int = EXIT_FAIL) -> int:
    print(f"gempita: error: {message}", file=sys.stderr)
    return code


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine; SIGTERM and Ctrl-C cancel it so it can shut down in order."""

    async def wrapper() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if task is not None:
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await main
        except asyncio.CancelledError:
            return EXIT_OK

    return asyncio.run(wrapper())


# --- run ------------------------------------------------------------------------------------


def _load(path: str) -> Any:
    from gateway.compose import load_config

    return load_config(path)


def with_ble_recording(config: Any, directory: Path) -> Any:
    """Every BLE device also writes a capture of each session into `directory`."""
    import types

    directory.mkdir(parents=True, exist_ok=True)
    devices = tuple(
        dataclasses.replace(
            d, options=types.MappingProxyType({**d.options, "record": str(directory)})
        )
        if d.transport == "ble"
        else d
        for d in config.devices
    )
    return dataclasses.replace(config, devices=devices)


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if args.record:
        config = with_ble_recording(config, Path(args.record))
    _setup_logging(args.log_level or config.gateway.log_level)
    from gateway.compose import build_gateway

    gateway = build_gateway(config)
    return run_async(_run_gateway(gateway))


async def _run_gateway(gateway: Any) -> int:
    await gateway.run()
    return EXIT_OK


# --- status ---------------------------------------------------------------------------------


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_status(args: argparse.Namespace) -> int:
    config = _load(args.config)
    from gateway.outbox_store import OutboxStore
    from gateway.service import STATUS_FILE

    if not config.outbox_path.exists():
        return _fail(f"no outbox at {config.outbox_path}: has the gateway ever run?")
    store = OutboxStore(
        config.outbox_path, max_readings=config.outbox.max_readings, exclusive=False
    )
    store.open()
    try:
        counts = store.counts()
    finally:
        store.close()
    now = time.time()
    status_path = Path(config.gateway.state_dir) / STATUS_FILE
    live: dict[str, Any] = {}
    if status_path.exists():
        with contextlib.suppress(OSError, ValueError):
            live = json.loads(status_path.read_text())
    running = live.get("state") == "running" and now - float(live.get("updated_at", 0)) < 30
    publisher = live.get("publisher", {}) if running else {}
    report = {
        "gateway_id": config.gateway.id,
        "running": running,
        "outbox": {
            "path": str(config.outbox_path),
            "pending": counts.pending,
            "published": counts.published,
            "confirmed": counts.confirmed,
            "refused": counts.refused,
            "max_readings": config.outbox.max_readings,
            "oldest_pending_age_s": None
            if counts.oldest_pending_created_at is None
            else round(now - counts.oldest_pending_created_at, 1),
            "last_error": counts.last_error,
        },
        "broker": {
            "url": config.mqtt.url,
            "connected": bool(publisher.get("connected")),
            "last_publish_at": publisher.get("last_publish_at"),
            "last_error": publisher.get("last_error"),
        },
        "alarms": live.get("alarms", []) if running else [],
        "devices": live.get("devices", []) if running else [],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    ob, br = report["outbox"], report["broker"]
    table = Table(title=f"Gempita gateway {config.gateway.id}", show_header=False)
    table.add_row("gateway", "running" if running else "[yellow]not running[/]")
    table.add_row("outbox", ob["path"])
    table.add_row("  pending (not yet at broker)", str(ob["pending"]))
    table.add_row("  published (awaiting central)", str(ob["published"]))
    table.add_row("  confirmed (stored by central)", str(ob["confirmed"]))
    table.add_row("  refused by broker", str(ob["refused"]))
    table.add_row("  oldest unconfirmed", _age(ob["oldest_pending_age_s"]))
    table.add_row("broker", br["url"])
    table.add_row("  connected", "yes" if br["connected"] else "[red]no[/]")
    last = br["last_publish_at"]
    table.add_row("  last publish", "-" if last is None else _age(now - float(last)) + " ago")
    if br["last_error"] or ob["last_error"]:
        table.add_row("  last error", f"[red]{br['last_error'] or ob['last_error']}[/]")
    for alarm in report["alarms"]:
        table.add_row("[red]ALARM[/]", f"[red]{alarm}[/]")
    for device in report["devices"]:
        table.add_row(f"device {device['name']}", f"{device['state']} — {_device_detail(device)}")
    console.print(table)
    return EXIT_OK


def _device_detail(device: dict[str, Any]) -> str:
    """The device's last error, or what it stored: a meter re-sends its whole memory every
    session, so the records it sent count apart from the readings newly stored."""
    if device.get("last_error"):
        return str(device["last_error"])
    detail = f"{device.get('readings_stored', 0)} readings stored"
    resent = device.get("records_resent", 0)
    return f"{detail}, {resent} re-sent from its memory (already stored)" if resent else detail


# --- outbox drain ---------------------------------------------------------------------------


def cmd_outbox_drain(args: argparse.Namespace) -> int:
    config = _load(args.config)
    _setup_logging(args.log_level or "WARNING")
    return run_async(_drain(config, args.timeout, args.until))


async def _drain(config: Any, timeout_s: float, until: str) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from gateway.compose import running_gateway
    from gateway.config import KioskSection
    from gateway.outbox_store import OutboxStore

    # Count before the publisher starts, so the bar covers everything this drain sends.
    store = OutboxStore(config.outbox_path, exclusive=False)
    store.open()
    try:
        first = store.counts()
    finally:
        store.close()
    total = first.pending + (first.published if until == "confirmed" else 0)
    drain_only = dataclasses.replace(config, devices=(), kiosk=KioskSection())
    deadline = time.monotonic() + timeout_s
    async with running_gateway(drain_only) as gateway:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ) as progress:
            bar = progress.add_task(f"draining to {config.mqtt.url}", total=total or 1)
            while True:
                counts = await gateway.outbox.counts()
                left = counts.pending + (counts.published if until == "confirmed" else 0)
                progress.update(bar, completed=max(0, total - left) if total else 1)
                if left == 0:
                    break
                if time.monotonic() > deadline:
                    print(
                        f"gempita: drain timed out with {left} readings left "
                        f"(broker: {gateway.publisher.state.last_error or 'no error'})",
                        file=sys.stderr,
                    )
                    return EXIT_FAIL
                await asyncio.sleep(0.2)
    print(f"drained: {total} readings {until}")
    return EXIT_OK


# --- central --------------------------------------------------------------------------------


def cmd_central(args: argparse.Namespace) -> int:
    _setup_logging(args.log_level or "INFO")
    return run_async(_central(args))


def print_reading(payload: dict[str, Any]) -> None:
    values = payload.get("values", {})
    if payload.get("kind") == "blood_pressure":
        text = (
            f"BP {values.get('systolic_mmhg')}/{values.get('diastolic_mmhg')} mmHg "
            f"pulse {values.get('pulse_bpm')}"
        )
    else:
        glucose = values.get("glucose_mgdl")
        shown = "HI" if values.get("hi") else "LO" if values.get("lo") else f"{glucose} mg/dL"
        text = f"glucose {shown}"
    device = payload.get("device", {})
    print(
        f"central stored {payload.get('gateway_id')} {payload.get('measured_at')} "
        f"{device.get('model') or device.get('id')}: {text} "
        f"[{payload.get('time_quality')}] id={str(payload.get('id'))[:8]}",
        flush=True,
    )


async def _central(args: argparse.Namespace) -> int:
    from central.service import CentralService
    from central.store import CentralStore
    from core.mqtt import BrokerSettings

    store = CentralStore(args.db)
    settings = BrokerSettings(
        url=args.broker,
        client_id=args.client_id,
        ca_file=args.ca_file or "",
        cert_file=args.cert_file or "",
        key_file=args.key_file or "",
        session_expiry_s=14 * 24 * 3600,
    )

    def on_stored(payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            print_reading(payload)

    service = CentralService(store, settings, on_stored=on_stored if args.print else None)
    try:
        await service.run()
    finally:
        store.close()
    return EXIT_OK


# --- pki ------------------------------------------------------------------------------------


def cmd_pki(args: argparse.Namespace) -> int:
    from broker.pki import PkiError, init_ca, issue

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
        else:
            made = issue(directory, args.name, server=True, hosts=tuple(args.host or ()))
            print(f"broker certificate: {made.cert} key: {made.key}")
    except PkiError as exc:
        return _fail(str(exc))
    return EXIT_OK


# --- demo -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_logging(args.log_level or "WARNING")
    from gateway.demo import run_demo

    return run_async(run_demo(args))


_BP_FORM = (
    "harus SISTOLIK/DIASTOLIK dalam mmHg, sistolik di atas diastolik, mis. 150/95 "
    "(expected SYSTOLIC/DIASTOLIC in mmHg, systolic above diastolic, e.g. 150/95)"
)


def _bp_arg(text: str) -> tuple[float, float]:
    from simulators.ble.resident import ChosenBp

    systolic, slash, diastolic = text.strip().partition("/")
    if not slash or not systolic.isdigit() or not diastolic.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: {_BP_FORM}")
    try:
        chosen = ChosenBp(float(systolic), float(diastolic))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {_BP_FORM}; {exc}") from exc
    return chosen.systolic, chosen.diastolic


def _pulse_arg(text: str) -> float:
    from simulators.ble.resident import PULSE_RANGE

    low, high = PULSE_RANGE
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise argparse.ArgumentTypeError(
            f"{text!r}: harus bilangan bulat {low}-{high} denyut/menit, mis. 72 "
            f"(expected a whole number {low}-{high} beats per minute)"
        )
    return float(text)


def _glucose_arg(text: str) -> float | str:
    from simulators.ble.resident import GLUCOSE_RANGE

    low, high = GLUCOSE_RANGE
    word = text.strip().upper()
    if word in ("HI", "LO"):
        return word
    form = (
        f"harus mg/dL {low}-{high}, atau HI / LO, mis. 250 "
        f"(expected mg/dL {low}-{high}, or HI / LO, e.g. 250)"
    )
    try:
        value = float(word)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {form}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text!r}: {form}")
    return value


def _chosen_from(args: argparse.Namespace) -> Chosen:
    """The ChosenBp / ChosenGlucose the arguments describe (argparse errors if they don't)."""
    from simulators.ble.resident import ChosenBp, ChosenGlucose

    parser: argparse.ArgumentParser = args.measure_parser
    glucose = args.glucose is not None or args.control_solution
    if args.pulse is not None and args.bp is None:
        parser.error("--pulse hanya bersama --bp (--pulse goes with --bp)")
    if args.fasting and not glucose:
        parser.error("--fasting hanya bersama --glucose (--fasting goes with --glucose)")
    if (args.bp is None) == (not glucose):
        parser.error("pilih satu: --bp, atau --glucose / --control-solution "
                     "(choose one: --bp, or --glucose / --control-solution)")
    if args.bp is not None:
        return ChosenBp(args.bp[0], args.bp[1], args.pulse)
    value = args.glucose
    return ChosenGlucose(
        mgdl=value if isinstance(value, float) else None,
        hi=value == "HI",
        lo=value == "LO",
        fasting=args.fasting,
        control_solution=args.control_solution,
    )


def _describe(chosen: Chosen) -> str:
    from simulators.ble.resident import ChosenBp

    if isinstance(chosen, ChosenBp):
        pulse = "" if chosen.pulse is None else f", nadi {chosen.pulse:g}"
        return f"tekanan darah {chosen.systolic:g}/{chosen.diastolic:g} mmHg{pulse}"
    if chosen.hi or chosen.lo:
        shown = "HI" if chosen.hi else "LO"
    else:
        shown = f"{chosen.value_mgdl:g} mg/dL"
    text = f"gula darah {shown}"
    if chosen.fasting:
        text += " (puasa)"
    if chosen.control_solution:
        text += " (larutan kontrol)"
    return text


def cmd_demo_measure(args: argparse.Namespace) -> int:
    from simulators.ble.resident import ChosenGlucose, Placed
    from simulators.demo_socket import (
        DemoNotRunningError,
        DemoSocketError,
        MeasureRequest,
        ask,
        socket_path,
    )

    chosen = _chosen_from(args)
    path = socket_path(args.state_dir)
    try:
        reply = ask(path, MeasureRequest(chosen, at_kiosk=args.at_kiosk))
    except DemoNotRunningError:
        return _fail(
            f"demo tidak berjalan: jalankan `make demo` dulu (tidak ada demo di {path}; "
            "the demo is not running with this --state-dir)"
        )
    except (DemoSocketError, OSError) as exc:
        return _fail(f"demo tidak menjawab: {exc} (the demo did not answer)")
    if reply.error == "no_meter":
        return _fail(f"demo ini tidak punya meteran simulasi untuk {chosen.kind.value} "
                     "(this demo has no simulated meter of that kind)")
    if reply.placed is None:
        return _fail(f"demo menolak permintaan: {reply.detail} (the demo refused it)")
    what = _describe(chosen)
    if reply.placed is Placed.KIOSK:
        print(f"Disimpan untuk kios: {what} dipakai saat langkah ukur berikutnya di kios. "
              "(Held for the kiosk's next measure step of this kind.)")
    else:
        print(f"Terkirim ke meteran simulasi: {what}. Menjadi hasil tersimpan berikutnya dalam "
              "beberapa detik. (Stored in the simulated meter; the next stored reading.)")
    if isinstance(chosen, ChosenGlucose) and chosen.control_solution:
        print("Tes larutan kontrol: gateway sengaja tidak mencatatnya sebagai hasil warga. "
              "(A control-solution test: the gateway does not record it as a resident's "
              "result, on purpose.)")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser, config: bool = True) -> None:
    if config:
        parser.add_argument(
            "-c",
            "--config",
            default=DEFAULT_CONFIG,
            help=f"gateway configuration file (TOML; default {DEFAULT_CONFIG}; "
            "documented example: gateway.example.toml)",
        )
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (default from config)"
    )


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gempita",
        description="Gempita Edge: offline-first gateway for community health screening kiosks. "
        "Reads blood-pressure monitors and glucose meters (BLE, serial), keeps every reading "
        "in a durable outbox and delivers it to the central health system over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"gempita {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "run",
        help="run the gateway service",
        description="Run the gateway: device sessions, outbox, publisher, kiosk (if enabled). "
        "Under systemd it reports READY and pings the watchdog. Stops cleanly on SIGTERM.",
    )
    _add_common(p)
    p.add_argument(
        "--record",
        metavar="DIR",
        help="write a JSON Lines capture of every BLE session into DIR (one file per session), "
        "to replay a field problem later with `gempita replay`",
    )
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "status",
        help="show outbox counts, broker connection and devices",
        description="Show the outbox (pending, published, confirmed, refused, oldest "
        "unconfirmed age), the broker connection and last publish of the running gateway, "
        "alarms and devices. Works while the gateway runs or not.",
    )
    _add_common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("outbox", help="outbox maintenance", description="Outbox maintenance.")
    outbox_sub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    d = outbox_sub.add_parser(
        "drain",
        help="publish everything pending now, with a progress bar",
        description="Connect to the broker and publish every pending reading, showing progress; "
        "exit 0 when none is left (or, with --until confirmed, when central confirmed all). "
        "Do not run it while `gempita run` is running on the same outbox.",
    )
    _add_common(d)
    d.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    d.add_argument(
        "--until",
        choices=("published", "confirmed"),
        default="published",
        help="stop when all are at the broker (default) or confirmed by central",
    )
    d.set_defaults(handler=cmd_outbox_drain)

    p = sub.add_parser(
        "central",
        help="run the reference central service",
        description="Subscribe to every gateway's readings (MQTT v5 shared subscription "
        "'$share/gempita-central/gempita/v1/+/readings'), store each reading once by id, "
        "and send receipts back to the gateway. Several instances may share one broker.",
    )
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="broker URL (mqtt[s]://)")
    p.add_argument(
        "--db",
        default="sqlite:///central.db",
        help="SQLAlchemy database URL (default sqlite:///central.db; "
        "postgresql+psycopg://user@host/db also works)",
    )
    p.add_argument("--client-id", default="central-1", help="MQTT client id (unique per instance)")
    p.add_argument("--ca-file", help="CA certificate for mqtts://")
    p.add_argument("--cert-file", help="client certificate (CN=central)")
    p.add_argument("--key-file", help="client key")
    p.add_argument("--print", action="store_true", help="print each newly stored reading")
    _add_common(p, config=False)
    p.set_defaults(handler=cmd_central)

    p = sub.add_parser(
        "pki",
        help="make the CA and certificates for broker, gateways and central",
        description="A small PKI: `init` makes the CA; `gateway ID` issues a gateway client "
        "certificate with CN=ID (the broker ACL pins it to gempita/v1/ID/...); `central` and "
        "`broker` issue the central client and broker server certificates.",
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
    p.set_defaults(handler=cmd_pki)

    p = sub.add_parser(
        "demo",
        help="run the whole chain on this machine with simulated devices",
        description="Start mosquitto on a free local port, the central service, and a gateway "
        "with simulated blood-pressure and glucose devices and the kiosk web page; print each "
        "reading as central stores it. Ctrl-C stops everything cleanly. While it runs, "
        "`gempita demo measure` (see its --help) gives it readings you choose.",
    )
    p.add_argument("--state-dir", default="demo-state", help="where demo data lives")
    p.add_argument("--kiosk-port", type=int, default=8080, help="kiosk web page port")
    p.add_argument("--duration", type=float, default=0, help="stop after N seconds (0: never)")
    p.add_argument(
        "--every",
        type=float,
        default=20.0,
        help="a simulated resident measures every N seconds (0: only on kiosk request)",
    )
    p.add_argument(
        "--no-auto-resident",
        action="store_true",
        help="no background resident (same as --every 0, and wins over it): readings come "
        "only from the kiosk's measure step and `gempita demo measure` - for trainers",
    )
    _add_common(p, config=False)
    p.set_defaults(handler=cmd_demo)
    demo_sub = p.add_subparsers(dest="demo_command", metavar="ACTION", required=False)
    m = demo_sub.add_parser(
        "measure",
        help="give the running demo a chosen reading (to show each category)",
        description="Masukkan hasil pilihan Anda ke meteran simulasi demo yang sedang "
        "berjalan, untuk menunjukkan tiap kategori. Tanpa --at-kiosk hasil langsung tersimpan "
        "di meteran (hasil tersimpan berikutnya); dengan --at-kiosk dipakai pada langkah ukur "
        "berikutnya di kios. -- "
        "Put a reading you choose into a simulated meter of the running demo "
        "(talks to it through STATE_DIR/demo.sock). By default the meter stores it at once: "
        "it becomes the next stored reading within seconds. With --at-kiosk, given before the "
        "resident presses the kiosk's measure button, it waits for the kiosk's next measure "
        "step of that kind, which then takes it in place of a random value. Examples: "
        "--bp 150/95 --pulse 72; --glucose 250 --fasting; --glucose HI; --glucose LO; "
        "--control-solution.",
    )
    m.add_argument("--bp", type=_bp_arg, metavar="SYS/DIA",
                   help="blood pressure in mmHg, systolic above diastolic, e.g. 150/95")
    m.add_argument("--pulse", type=_pulse_arg, metavar="BPM",
                   help="pulse with --bp (default: none sent)")
    m.add_argument("--glucose", type=_glucose_arg, metavar="MGDL|HI|LO",
                   help="glucose in mg/dL (20-600), or the meter's HI / LO result")
    m.add_argument("--fasting", action="store_true",
                   help="with --glucose: the meter marks it fasting (meal context); without it "
                   "the resident's answer on the kiosk applies")
    m.add_argument("--control-solution", action="store_true",
                   help="a control-solution test (value from --glucose, else 120 mg/dL): the "
                   "gateway must not record it as a resident's result")
    m.add_argument("--at-kiosk", action="store_true",
                   help="hold it for the kiosk's next measure step instead of storing it now")
    m.add_argument("--state-dir", default="demo-state",
                   help="the running demo's --state-dir (default demo-state)")
    m.set_defaults(handler=cmd_demo_measure, measure_parser=m)

    from gateway.cli_devices import add_device_commands

    add_device_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        return _fail(f"configuration: {exc}", EXIT_USAGE)
    except CoreError as exc:  # the gateway's errors and the core's (broker, payload)
        return _fail(str(exc))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
