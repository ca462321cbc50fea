"""(f) + (g), issue 5: a resident's measurement reaches the kiosk screen, and page weight.

The real `Gateway` hosts the kiosk with its production settings (the measuring page's status
requests as the `KioskSettings` defaults make them); a simulated BLE blood-pressure monitor is
read by the real BLE runner through the real outbox (mosquitto and a central stand-in behind
it); Debian Chromium, driven by Playwright, walks a resident through welcome -> consent -> NIK
-> choose BP -> instructions -> "Siap" -> measuring page. Then the monitor stores a new result, and:

- t0: the monitor indicates that result on 0x2A35 (`_TimedBpMonitor`, a tap that only records
  the time and calls the original);
- stored: the gateway publishes `ReadingStored` for it (after the outbox commit);
- nav: the measuring page's status request saw "done" and navigated to /hasil (the result document's
  `performance.timeOrigin`);
- t1 page: /hasil's DOMContentLoaded (its values are server-rendered, so in the DOM then);
- t1 seen: Playwright, in this process, found the values on screen (an upper bound: it adds
  the DevTools round trip).

All times are wall-clock (`time.time()` here, `timeOrigin` in Chromium: the same system clock).
The target is judged on t1 seen, the conservative one. The gateway runs on its own event loop
in a thread of this process, so the sync Playwright API can drive the browser meanwhile.

(g) sums, per step of the flow, what the browser received (response headers + encoded body,
Playwright `Request.sizes()`) in a fresh browser context with an empty cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Browser, Page, Request, sync_playwright

from bench.common import Result, free_port, load_average, median, mosquitto
from core.events import ReadingStored
from core.reading import BloodPressure
from gateway.cli.compose import build_gateway
from gateway.config import parse_config
from gateway.service import Gateway
from kiosk.deps import KioskSettings
from kiosk.privacy import generate_keypair
from kiosk.security import hash_secret
from simulators.ble.backend import Air
from simulators.ble.cli import demo_device_configs
from simulators.ble.devices import BpMonitor, BpRecord, DeviceClock, sample_bp_records

T = TypeVar("T")

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
NIK = "6471031708850003"  # valid: Balikpapan, born 17-08-1985
BIRTH_YEAR = "1985"
VISIBLE_TARGET_MS = 500.0
PAGE_TARGET_KB = 300.0


class _TimedBpMonitor(BpMonitor):
    """The simulated monitor, noting when each 0x2A35 payload is indicated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.indicated: list[tuple[float, bytes]] = []

    async def indicate(self, uuid: str | int, data: bytes) -> bool:
        self.indicated.append((time.time(), bytes(data)))
        return await super().indicate(uuid, data)


@dataclass
class _Stack:
    loop: asyncio.AbstractEventLoop
    gateway: Gateway
    monitor: _TimedBpMonitor
    url: str
    stored: dict[float, float] = field(default_factory=dict)  # systolic -> time of event
    requested: list[float] = field(default_factory=list)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def _config(tmp: Path, broker_url: str, air: Air, port: int) -> Any:
    keys = generate_keypair()
    (tmp / "programme.key").write_text(bytes(range(32)).hex())
    (tmp / "central.pub").write_text(keys.public_key.hex())
    (tmp / "gw").mkdir()
    devices = [
        # Sessions every 0.3 s so a round does not wait out the default poll; t0 is taken at
        # the indication, so this does not enter the measured latency.
        dataclasses.replace(d, options={**d.options, "poll_s": 0.3, "retry_initial_s": 0.2})
        for d in demo_device_configs(air)
    ]
    config = parse_config(
        {
            "gateway": {"id": "gw-bench", "site_id": "bench-kiosk", "state_dir": str(tmp / "gw")},
            "mqtt": {"url": broker_url},
            "kiosk": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": port,
                "settings": {
                    "programme_key_file": str(tmp / "programme.key"),
                    "central_public_key_file": str(tmp / "central.pub"),
                    "admin_password_hash": hash_secret("bench-operator-sandi"),
                    "site_name": "Kios Bench",
                    "puskesmas_name": "Puskesmas Karang Jati",
                    "puskesmas_address": "Jl. Mayjen Sutoyo, Balikpapan Tengah",
                    "bp_device": devices[0].name,
                    "glucose_device": "none-attached",
                    "measurement_timeout_s": 30.0,
                    "portal_host": f"127.0.0.1:{port}",
                },
            },
        },
        source="bench",
    )
    return dataclasses.replace(config, devices=tuple(devices))


@contextlib.contextmanager
def _running_stack(tmp: Path, broker_url: str) -> Iterator[_Stack]:
    air = Air()
    monitor = _TimedBpMonitor(
        records=sample_bp_records(DeviceClock().local_now(), 2),
        cuff_pressures=[20, 60, 110, 150, 120, 90],
    )
    air.add(monitor)
    port = free_port()
    requested: list[float] = []
    gateway = build_gateway(
        _config(tmp, broker_url, air, port),
        measurement_hook=lambda _kind: requested.append(time.time()),
    )
    loop = asyncio.new_event_loop()
    stack = _Stack(loop, gateway, monitor, f"http://127.0.0.1:{port}", requested=requested)
    stop = asyncio.Event()
    started = threading.Event()
    failure: list[BaseException] = []

    async def tap() -> None:
        async with gateway.events.subscribe() as queue:
            started.set()
            while True:
                event = await queue.get()
                if isinstance(event, ReadingStored) and event.reading.subject is not None:
                    values = event.reading.values
                    if isinstance(values, BloodPressure) and values.systolic_mmhg is not None:
                        stack.stored.setdefault(values.systolic_mmhg, time.time())

    async def main() -> None:
        tap_task = asyncio.create_task(tap(), name="bench-event-tap")
        task = asyncio.create_task(gateway.run(), name="gateway")
        await stop.wait()
        task.cancel()
        tap_task.cancel()
        results = await asyncio.gather(task, tap_task, return_exceptions=True)
        await air.aclose()
        if isinstance(results[0], Exception):
            raise results[0]

    def thread_main() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # handed to the benchmark thread below
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=thread_main, name="bench-kiosk-stack")
    thread.start()
    try:
        if not started.wait(20) or failure:
            raise RuntimeError(f"gateway did not start: {failure}")
        _wait_http(stack.url)
        deadline = time.monotonic() + 20
        while next(iter(gateway.devices.values())).readings_total == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the monitor's memory never reached the outbox")
            time.sleep(0.05)
        yield stack
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()
    if failure:
        raise failure[0]


def _wait_http(url: str) -> None:

    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url + "/", timeout=1.0)
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"kiosk not serving at {url}")
        time.sleep(0.05)


class _Transfer:
    """Bytes the browser received, split by the flow's steps."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.steps: dict[str, int] = {}
        page.on("requestfinished", self._finished)

    def _finished(self, request: Request) -> None:
        self.requests.append(request)

    def step(self, name: str, action: Callable[[], None]) -> None:
        first = len(self.requests)
        action()
        total = 0
        for request in self.requests[first:]:
            sizes = request.sizes()
            total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        self.steps[name] = total


def _to_measuring(page: Page, base: str) -> _Transfer:
    transfer = _Transfer(page)

    def goto(path: str) -> Callable[[], None]:
        return lambda: (page.goto(base + path), None)[1]

    def click(role_name: str, url: str) -> Callable[[], None]:
        def act() -> None:
            page.get_by_role("button", name=role_name).click()
            page.wait_for_url(url)
            page.wait_for_load_state("load")

        return act

    def identify() -> None:
        page.get_by_label("NIK").fill(NIK)
        page.get_by_label("Tahun lahir").fill(BIRTH_YEAR)
        click("Lanjut", "**/pilih")()

    def choose() -> None:
        page.get_by_label("Tekanan darah").check()
        click("Lanjut", "**/petunjuk")()

    transfer.step("welcome /", goto("/"))
    transfer.step("consent", click("Bahasa Indonesia", "**/persetujuan"))
    transfer.step("identify", click("Saya berusia 18 tahun ke atas", "**/identitas"))
    transfer.step("choose", identify)
    transfer.step("instructions", choose)
    transfer.step("measuring", click("Siap", "**/ukur"))
    return transfer


@dataclass(frozen=True, slots=True)
class _Round:
    t0: float
    stored: float
    nav: float
    page: float
    seen: float
    result_bytes: int


def _one_round(
    stack: _Stack, browser: Browser, rng: random.Random, systolic: float
) -> tuple[_Round, dict[str, int]]:
    context = browser.new_context(viewport={"width": 800, "height": 480})
    try:
        page = context.new_page()
        transfer = _to_measuring(page, stack.url)
        # The resident finishes at a random moment relative to the page's poll cycle.
        time.sleep(rng.uniform(0.0, 1.0))
        record = BpRecord(
            systolic, 80.0, 70.0, stack.monitor.clock.local_now().replace(microsecond=0)
        )
        payload = stack.monitor.encode_record(record)

        async def store() -> None:
            stack.monitor.records.append(record)

        stack.call(store())
        first = len(transfer.requests)
        page.wait_for_url("**/hasil", timeout=20_000)
        page.get_by_text(f"{systolic:g}/80 mmHg").wait_for(timeout=10_000)
        seen = time.time()
        origin, loaded = page.evaluate(
            "[performance.timeOrigin,"
            " performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd]"
        )
        t0 = min(at for at, data in stack.monitor.indicated if data == payload)
        stored = stack.stored[systolic]
        page.wait_for_load_state("load")
        result_bytes = 0
        for request in transfer.requests[first:]:
            if "/ukur/status" in request.url:
                continue  # the polls are not the page load
            sizes = request.sizes()
            result_bytes += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        steps = dict(transfer.steps)
        steps["result"] = result_bytes
        page.get_by_role("button", name="Selesai").click()
        page.wait_for_url("**/?m=ended")
        return _Round(
            t0, stored, origin / 1000, (origin + loaded) / 1000, seen, result_bytes
        ), steps
    finally:
        context.close()


def _default_poll_ms() -> object:
    return next(
        f.default for f in dataclasses.fields(KioskSettings) if f.name == "poll_interval_ms"
    )


def _ms(values: list[float]) -> str:
    return f"{median(values) * 1000:.0f} / {max(values) * 1000:.0f} ms"


def run_kiosk(rounds: int, *, quick: bool = False, seed: int = 5) -> list[Result]:
    """`rounds` residents measured one after another; returns [(f) latency, (g) page bytes]."""
    rng = random.Random(seed)
    load_before = load_average()
    found: list[_Round] = []
    pages: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory(prefix="gempita-bench-kiosk-") as tmp,
        mosquitto() as url,
        _running_stack(Path(tmp), url) as stack,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for n in range(rounds):
                one, steps = _one_round(stack, browser, rng, 121.0 + n)
                found.append(one)
                for name, size in steps.items():
                    pages[name] = max(pages.get(name, 0), size)
        finally:
            browser.close()
    seen = [r.seen - r.t0 for r in found]
    in_page = [r.page - r.t0 for r in found]
    worst_seen = max(seen) * 1000
    latency = Result(
        name="(f) kiosk: BP monitor indicates -> result on screen (Chromium)",
        figures={
            "rounds": f"{rounds} residents, one after another, fresh browser context each",
            "p50 / max (seen by Playwright)": _ms(seen),
            "p50 / max (in page, DOMContentLoaded)": _ms(in_page),
            "split p50 / max: indication -> ReadingStored": _ms([r.stored - r.t0 for r in found]),
            "split: ReadingStored -> page navigates": _ms([r.nav - r.stored for r in found]),
            "split: navigation -> DOMContentLoaded": _ms([r.page - r.nav for r in found]),
            "split: DOMContentLoaded -> seen by Playwright": _ms([r.seen - r.page for r in found]),
            "all samples (seen), ms": ", ".join(f"{s * 1000:.0f}" for s in seen),
            "measuring page": "long poll (/ukur/status?seen=...), "
            f"pause between requests {_default_poll_ms()} ms (KioskSettings default)",
            "load average before / after": f"{load_before} / {load_average()}",
        },
        target=f"every result on screen <= {VISIBLE_TARGET_MS:.0f} ms after the indication "
        f"(max of {rounds})",
        met=None if quick else worst_seen <= VISIBLE_TARGET_MS,
    )
    worst_name = max(pages, key=lambda k: pages[k])
    worst_kb = pages[worst_name] / 1000
    weight = Result(
        name="(g) kiosk: first page load, bytes transferred (empty cache)",
        figures={
            **{f"{name}": f"{size / 1000:.1f} KB" for name, size in pages.items()},
            "largest": f"{worst_kb:.1f} KB ({worst_name})",
        },
        target=f"every page <= {PAGE_TARGET_KB:.0f} KB",
        met=None if quick else worst_kb <= PAGE_TARGET_KB,
        notes=["headers + encoded bodies of every response of the step (document, fetches)"],
    )
    return [latency, weight]
