"""(h)/(i): central draining a backlog into PostgreSQL, exactly once, with receipts (issue 12).

One round: a fresh PostgreSQL database and a fresh mosquitto (no stand-in). Central's persistent
sessions (its client ids, session expiry, the shared subscription) and a raw drainer's session
are made first and left; then N real `gempita.reading/1` payloads from G gateways (distinct ids
and topics) are published, so the broker queues them for central while central is not running:
the publishers' CPU is spent before central's clock starts. Then, in this order:

- raw paho drain (MQTT-side limit): `bench.ingest_proc drain` resumes its own session holding
  the same N messages and acknowledges them; CONNACK -> Nth message.
- raw insert (database-side limit): `INSERT ... ON CONFLICT DO NOTHING` of the same rows, in
  batches of 5,000, psycopg `executemany`, into a fresh table shaped like `readings`.
- central: `gempita central --db postgresql+psycopg://...` (one or two processes); the clock runs
  from its "subscribed" log line to the moment both all N rows are counted and the receipt
  counter (`bench.ingest_proc receipts`, its own process) has seen all N ids confirmed.
  Commits are observed from outside: `SELECT count(*)` every ~20 ms on a separate connection;
  the longest gap is the longest time between two polls that saw the count rise, from the first
  commit to the last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg

from bench.common import Result, load_average, make_reading, mosquitto
from bench.ingest_proc import connect_session as _connect
from bench.ingest_proc import make_client as _client
from core.payload import encode_reading
from core.topics import READINGS_FILTER, topic_readings
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
SHARE = "$share/gempita-central/" + READINGS_FILTER
RAW_DRAIN_ID = "bench-raw-drain"
POLL_S = 0.02
BATCH = 5000
TARGET_RATE = 10_000.0
TARGET_RATIO = 0.5


@dataclasses.dataclass(slots=True)
class Round:
    instances: int
    central_s: float
    spawn_to_done_s: float
    longest_gap_s: float
    first_commit_s: float
    raw_insert_s: float  # the faster of the two raw inserts
    raw_many_s: float
    raw_unnest_s: float
    raw_drain_s: float
    receipts: int
    cpu_us: float  # central's own CPU (user + system, all its processes) per reading


def _rows(count: int, gateways: int) -> list[tuple[str, str, bytes]]:
    """(gateway id, topic, payload) of every reading, spread over the gateways in turn."""
    out = []
    for n in range(count):
        gw = f"gw-bench-{n % gateways:02d}"
        reading = dataclasses.replace(make_reading(n, prefix="ingest-"), gateway_id=gw)
        out.append((gw, topic_readings(gw), encode_reading(reading)))
    return out


def _make_session(url: str, client_id: str, topic: str) -> None:
    done = threading.Event()
    client = _client(client_id)
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_a: done.set()
    _connect(client, url, resume=False)
    client.loop_start()
    try:
        if not done.wait(10):
            raise RuntimeError(f"session {client_id} did not subscribe")
    finally:
        client.disconnect()
        client.loop_stop()


def _publish(url: str, rows: list[tuple[str, str, bytes]]) -> None:
    acked = threading.Semaphore(0)
    refused: list[int] = []
    client = _client()

    def on_publish(_c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        if getattr(rc, "value", 0) >= 0x80:
            refused.append(rc.value)
        acked.release()

    client.on_publish = on_publish
    _connect(client, url, resume=False)
    client.loop_start()
    try:
        window = 1000
        for i, (_gw, topic, payload) in enumerate(rows):
            if i >= window:
                acked.acquire()
            client.publish(topic, payload, qos=1)
        for _ in range(min(window, len(rows))):
            acked.acquire()
    finally:
        client.disconnect()
        client.loop_stop()
    if refused:
        raise RuntimeError(f"broker refused {len(refused)} publishes (first 0x{refused[0]:02X})")


def _raw_drain(url: str, count: int) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "bench.ingest_proc", "drain", url, RAW_DRAIN_ID, str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.split()
    return float(out[1])


def _raw_insert(dsn: str, rows: list[tuple[str, str, bytes]]) -> tuple[float, float]:
    """Seconds to insert the rows raw: (psycopg executemany, one unnest statement per batch).

    Both are `INSERT ... ON CONFLICT DO NOTHING` of batches of BATCH rows, one transaction
    each, into fresh tables shaped like `readings`; the values are computed before the clock.
    """
    values = []
    for gw, _topic, payload in rows:
        data = orjson.loads(payload)
        values.append(
            (data["id"], gw, data["kind"], data["measured_at"], time.time(), payload.decode())
        )
    columns = "(id, gateway_id, kind, measured_at, received_at, payload)"
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("raw_many", "raw_unnest"):
            conn.execute(f"CREATE TABLE {table} (LIKE readings INCLUDING ALL)")
        start = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(values), BATCH):
                with conn.transaction():
                    cur.executemany(
                        f"INSERT INTO raw_many {columns} VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        values[i : i + BATCH],
                    )
        out.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(0, len(values), BATCH):
            cols = list(zip(*values[i : i + BATCH], strict=True))
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO raw_unnest {columns} SELECT * FROM unnest(%b::text[], "
                    "%b::text[], %b::text[], %b::text[], %b::float8[], %b::text[]) "
                    "ON CONFLICT DO NOTHING",
                    [list(c) for c in cols],
                )
        out.append(time.perf_counter() - start)
        for table in ("raw_many", "raw_unnest"):
            stored = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            if stored is None or stored[0] != len(rows):
                raise RuntimeError(f"raw insert into {table} stored {stored} of {len(rows)}")
    return out[0], out[1]


@contextlib.contextmanager
def _receipt_counter(url: str, count: int) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest_proc", "receipts", url, str(count)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("receipt counter did not subscribe")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process so far (/proc/<pid>/stat, fields 14 and 15).

    CPU per reading moves much less than wall time when other work loads the machine.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _watch(stream: IO[str], marker: str, seen: threading.Event, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)
        if marker in line:
            seen.set()


def _central_round(server: PostgresServer, count: int, gateways: int, instances: int) -> Round:
    rows = _rows(count, gateways)
    name = server.create_database()
    db_url = server.url(name)
    dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname={name}"
    try:
        with mosquitto(stand_in=False) as url:
            ids = [f"central-{i + 1}" for i in range(instances)]
            for cid in ids:
                _make_session(url, cid, SHARE)
            _make_session(url, RAW_DRAIN_ID, READINGS_FILTER)
            with _receipt_counter(url, count) as counter:
                _publish(url, rows)
                raw_drain_s = _raw_drain(url, count)
                # The schema central would make; the raw table copies its shape.
                from central.store import CentralStore

                CentralStore(db_url).close()
                raw = _raw_insert(dsn, rows)
                return _run_central(url, db_url, dsn, ids, count, counter, raw, raw_drain_s)
    finally:
        server.drop_database(name)


def _run_central(
    url: str,
    db_url: str,
    dsn: str,
    ids: list[str],
    count: int,
    counter: subprocess.Popen[str],
    raw: tuple[float, float],
    raw_drain_s: float,
) -> Round:
    procs: list[subprocess.Popen[str]] = []
    ready: list[threading.Event] = []
    logs: list[list[str]] = []
    watchers: list[threading.Thread] = []
    spawned = time.monotonic()
    try:
        for cid in ids:
            # BENCH_CENTRAL_PROFILE=<prefix>: each central runs under cProfile and writes
            # <prefix>-<client id>.prof when the round stops it (SIGTERM: a clean exit).
            profile = os.environ.get("BENCH_CENTRAL_PROFILE")
            wrap = ["-m", "cProfile", "-o", f"{profile}-{cid}.prof"] if profile else []
            proc = subprocess.Popen(
                [
                    sys.executable,
                    *wrap,
                    "-m",
                    "gateway.cli",
                    "central",
                    "--broker",
                    url,
                    "--db",
                    db_url,
                    "--client-id",
                    cid,
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            event, lines = threading.Event(), list[str]()
            ready.append(event)
            logs.append(lines)
            assert proc.stderr is not None
            watcher = threading.Thread(
                target=_watch, args=(proc.stderr, "central subscribed", event, lines), daemon=True
            )
            watcher.start()
            watchers.append(watcher)
        for event, lines in zip(ready, logs, strict=True):
            if not event.wait(60):
                raise RuntimeError(f"central did not subscribe: {''.join(lines)[-2000:]}")
        start = time.monotonic()
        rises: list[float] = []
        last = 0
        deadline = start + 600
        with psycopg.connect(dsn, autocommit=True) as conn:
            while last < count:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(
                        f"central stored {last} of {count}: {''.join(logs[0])[-2000:]}"
                    )
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
                now = time.monotonic()
                if row is not None and row[0] > last:
                    last = row[0]
                    rises.append(now)
                time.sleep(POLL_S)
        if last != count:
            raise RuntimeError(f"central stored {last} rows for {count} readings")
        assert counter.stdout is not None
        line = counter.stdout.readline().split()  # blocks until every receipt arrived
        if not line or line[0] != "done":
            raise RuntimeError(f"receipt counter said {line}")
        done = max(rises[-1], float(line[1]))
        assert counter.stdin is not None
        counter.stdin.close()
        final = counter.stdout.readline().split()
        cpu_s = sum(_cpu_seconds(p.pid) for p in procs)
        gaps = [b - a for a, b in itertools.pairwise(rises)]
        return Round(
            instances=len(ids),
            central_s=done - start,
            spawn_to_done_s=done - spawned,
            longest_gap_s=max(gaps, default=0.0),
            first_commit_s=rises[0] - start,
            raw_insert_s=min(raw),
            raw_many_s=raw[0],
            raw_unnest_s=raw[1],
            raw_drain_s=raw_drain_s,
            receipts=int(final[1]),
            cpu_us=cpu_s / count * 1e6,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for watcher in watchers:
            watcher.join(10)  # the stream ends with the process
        for proc in procs:
            if proc.stderr is not None:
                proc.stderr.close()


def run_central_ingest(
    count: int, gateways: int = 50, *, quick: bool = False, two_instances: bool = True
) -> list[Result]:
    server = PostgresServer()
    server.start()
    try:
        one = _central_round(server, count, gateways, 1)
        load_one = load_average()
        if not two_instances:
            # (h) alone (BENCH_ONE_INSTANCE=1): half the minutes, for A/B rounds.
            two, load_two = one, load_one
        else:
            two = _central_round(server, count, gateways, 2)
            load_two = load_average()
    finally:
        server.stop()
    rate = count / one.central_s
    insert_rate = count / one.raw_insert_s
    ratio = rate / insert_rate
    gap_ms = one.longest_gap_s * 1000
    many = f"{count / one.raw_many_s:,.0f} rows/s ({one.raw_many_s:.2f} s, batches of {BATCH})"
    unnest = f"{count / one.raw_unnest_s:,.0f} rows/s ({one.raw_unnest_s:.2f} s)"
    h = Result(
        f"(h) central ingest, PostgreSQL, {count:,} readings from {gateways} gateways, 1 instance",
        {
            "central (subscribed -> all committed + receipted)": f"{rate:,.0f} readings/s "
            f"({one.central_s:.2f} s; spawn -> done {one.spawn_to_done_s:.2f} s)",
            "raw INSERT ... ON CONFLICT DO NOTHING, executemany": many,
            "raw INSERT ... SELECT unnest ... ON CONFLICT DO NOTHING": unnest,
            "raw paho drain of the same queue (MQTT limit)": f"{count / one.raw_drain_s:,.0f} "
            f"msgs/s ({one.raw_drain_s:.2f} s)",
            "ratio central / the faster raw insert (baseline)": f"{ratio:.2f}",
            "central CPU per reading (its process, from spawn)": f"{one.cpu_us:.0f} us",
            "first commit after subscribed": f"{one.first_commit_s * 1000:.0f} ms",
            "longest gap between commits (count(*) every 20 ms)": f"{gap_ms:.0f} ms",
            "receipt ids received (distinct = readings)": f"{one.receipts:,}",
            "load average after": load_one,
        },
        target=f">= {TARGET_RATE:,.0f} readings/s and >= {TARGET_RATIO} x raw insert",
        met=None if quick else (rate >= TARGET_RATE and ratio >= TARGET_RATIO),
    )
    rate_two = count / two.central_s
    i = Result(
        f"(i) two central instances vs one, {count:,} readings",
        {
            "two instances": f"{rate_two:,.0f} readings/s ({two.central_s:.2f} s; longest gap "
            f"{two.longest_gap_s * 1000:.0f} ms; {two.cpu_us:.0f} us CPU per reading in all)",
            "one instance": f"{rate:,.0f} readings/s",
            "ratio two / one": f"{rate_two / rate:.2f}",
            "raw insert in the two-instance round": f"{count / two.raw_insert_s:,.0f} rows/s",
            "load average after": load_two,
        },
        target="reported (2 cores shared by both instances, mosquitto and PostgreSQL)",
        met=None,
    )
    return [h, i] if two_instances else [h]


if __name__ == "__main__":
    for result in run_central_ingest(
        int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
        two_instances=os.environ.get("BENCH_ONE_INSTANCE") != "1",
    ):
        print(result.render(), flush=True)
