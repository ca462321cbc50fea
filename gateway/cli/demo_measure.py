"""`gempita demo` and `gempita demo measure`: arguments and replies (the demo: cli/demo.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from gateway.cli.output import (
    EXIT_OK,
    Subcommands,
    add_common,
    fail,
    run_async,
    setup_logging,
)

if TYPE_CHECKING:  # the demo's types only; simulators are imported where they are used
    from simulators.ble.resident import Chosen


def cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "WARNING")
    from gateway.cli.demo import run_demo

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
        return fail(
            f"demo tidak berjalan: jalankan `make demo` dulu (tidak ada demo di {path}; "
            "the demo is not running with this --state-dir)"
        )
    except (DemoSocketError, OSError) as exc:
        return fail(f"demo tidak menjawab: {exc} (the demo did not answer)")
    if reply.error == "no_meter":
        return fail(f"demo ini tidak punya meteran simulasi untuk {chosen.kind.value} "
                     "(this demo has no simulated meter of that kind)")
    if reply.placed is None:
        return fail(f"demo menolak permintaan: {reply.detail} (the demo refused it)")
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


def register(sub: Subcommands) -> None:
    """Add this module's command(s) to the `gempita` sub-parsers."""
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
    p.add_argument(
        "--central-port", type=int, default=8480, help="central's staff pages port (fleet, ...)"
    )
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
    p.add_argument(
        "--no-history",
        action="store_true",
        help="do not store the 90 days of simulated past screenings that give central's "
        "pages (fleet, cascade, worklist, quality) something to show",
    )
    add_common(p, config=False)
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
