"""Reference central service: subscribe to every gateway's readings, store once, send receipts.

Uses an MQTT v5 shared subscription so several instances split the load. Each message is
acknowledged to the broker only after it is committed (manual ack), and the receipt goes to the
gateway only after the commit too: a crash anywhere in between makes the broker (or the
gateway) send it again, and the id makes the second copy harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from central.store import CentralStore, Incoming
from core.backoff import Backoff
from core.errors import PayloadError, PublishError
from core.mqtt import BrokerSettings, MqttConnection
from core.payload_check import check_reading_payload
from core.topics import READINGS_FILTER, encode_receipt, gateway_of, topic_receipts

_LOGGER = logging.getLogger(__name__)

SHARE_GROUP = "gempita-central"
RECEIPT_CHUNK = 500
BATCH_MAX = 2000  # readings per transaction; one is parsed in one event-loop turn
# A dead letter keeps the first bytes for a person to look at; the broker's message size cap
# bounds it anyway, this bounds it here too.
DEAD_LETTER_KEEP_BYTES = 65536
DEAD_LETTER_LOG_EVERY_S = 60.0
# A store that refuses writes (database down, read-only, disk full) is retried on the same
# MQTT session: nothing is acknowledged meanwhile, so the broker keeps every message. The cap
# bounds how late central notices the database is back.
STORE_RETRY_INITIAL_S = 0.2
STORE_RETRY_CAP_S = 5.0


@dataclass(slots=True)
class CentralStats:
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    receipts_sent: int = 0
    store_outages: int = 0
    store_retries: int = 0


@dataclass(slots=True)
class _Msg:
    topic: str
    payload: bytes
    mid: int
    qos: int
    # time.monotonic() of the read turn that brought it (MqttConnection.read_at); a constant
    # default, not a factory: no call per message.
    received_at: float = 0.0


# A batch taken from the queue: its messages, the readings to store, the dead letters.
_Parsed = tuple[list[_Msg], list[Incoming], list[tuple[_Msg, str]]]


class CentralService:
    def __init__(
        self,
        store: CentralStore,
        settings: BrokerSettings,
        *,
        on_stored: Callable[[list[dict[str, Any]]], None] | None = None,
        backoff: Backoff | None = None,
        store_backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.on_stored = on_stored
        self.backoff = backoff or Backoff(initial_s=0.5, cap_s=30.0)
        self.store_backoff = store_backoff or Backoff(
            initial_s=STORE_RETRY_INITIAL_S, cap_s=STORE_RETRY_CAP_S
        )
        self.stats = CentralStats()
        self.ready = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="central-db")
        self._dead_logged_at = -DEAD_LETTER_LOG_EVERY_S
        self._dead_unlogged = 0
        # Received and not yet committed and acknowledged: the batch being stored, then the
        # queue behind it (read by `uncommitted`, for the consumer lag).
        self._storing: list[_Msg] = []
        self._queue: list[_Msg] = []

    @property
    def uncommitted(self) -> tuple[int, float | None]:
        """(messages received but not yet committed, time.monotonic() the oldest came)."""
        storing, queue = self._storing, self._queue
        first = storing[:1] or queue[:1]  # both in arrival order
        return len(storing) + len(queue), first[0].received_at if first else None

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self._session()
                except PublishError as exc:
                    _LOGGER.warning("central: %s", exc)
                self.ready.clear()
                await asyncio.sleep(self.backoff.next_delay())
        finally:
            self._executor.shutdown(wait=True)

    async def _session(self) -> None:
        queue: list[_Msg] = []
        self._queue, self._storing = queue, []
        wake = asyncio.Event()

        def on_message(topic: str, payload: bytes, mid: int, qos: int) -> None:
            # `conn` is bound below, before the connection can deliver anything.
            queue.append(_Msg(topic, payload, mid, qos, conn.read_at))
            if len(queue) == 1:
                # The flusher waits on `wake` only once it has emptied the queue, so only the
                # message that starts a new queue needs to wake it (not one set() per message).
                wake.set()

        conn = MqttConnection(self.settings, on_raw_message=on_message, manual_ack=True)
        try:
            await conn.connect()
            conn.subscribe(f"$share/{SHARE_GROUP}/{READINGS_FILTER}", qos=1)
            self.backoff.reset()
            self.ready.set()
            _LOGGER.info("central subscribed to %s on %s", READINGS_FILTER, self.settings.url)
            flusher = asyncio.create_task(self._flush_loop(conn, queue, wake), name="central-flush")
            try:
                waiters: list[asyncio.Future[Any]] = [flusher, conn.closed]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                flusher.cancel()
                results = await asyncio.gather(flusher, return_exceptions=True)
            if isinstance(results[0], Exception):
                # A store failure: drop the connection so unacked messages are redelivered.
                _LOGGER.error("central store failed: %s", results[0])
            reason = conn.closed.result() if conn.closed.done() else "store failure"
            raise PublishError(reason)
        finally:
            await conn.close()

    async def _flush_loop(
        self, conn: MqttConnection, queue: list[_Msg], wake: asyncio.Event
    ) -> None:
        while True:
            await wake.wait()
            wake.clear()
            ahead: _Parsed | None = None
            while queue or ahead is not None:
                batch, good, bad = ahead or self._take(queue)
                letters = [(m.topic, m.payload[:DEAD_LETTER_KEEP_BYTES], r) for m, r in bad]
                storing = asyncio.create_task(
                    self._store_until_done(good, letters), name="central-store"
                )
                # Parse the next batch while the database thread waits on this one's commit
                # (without the GIL); it is acknowledged only after its own commit, below.
                ahead = self._take(queue) if queue else None
                self._storing = batch + (ahead[0] if ahead is not None else [])
                try:
                    new_ids = await storing
                except asyncio.CancelledError:
                    storing.cancel()
                    raise
                if bad:
                    self._log_dead_letters(bad)
                self.stats.stored += len(new_ids)
                self.stats.duplicates += len(good) - len(new_ids)
                try:
                    self._send_receipts(conn, good)
                except PublishError:
                    # Link lost: nothing was acknowledged, so the broker redelivers the batch
                    # to our persistent session and the receipts go out then.
                    await conn.closed
                    return
                conn.ack_many([m.mid for m in batch if m.qos == 1])
                for msg in batch:
                    if msg.qos > 1:
                        conn.ack(msg.mid, msg.qos)
                self._storing = ahead[0] if ahead is not None else []
                if self.on_stored is not None and new_ids:
                    fresh = set(new_ids)
                    self.on_stored([json.loads(r.payload) for r in good if r.id in fresh])

    async def _store_until_done(
        self, good: list[Incoming], letters: list[tuple[str, bytes, str]]
    ) -> list[str]:
        """Store a batch and its dead letters, retrying for as long as the database refuses.

        Dropping the session instead (as central once did) made the broker redeliver into the
        same failure, and its reconnect backoff kept central idle long after the database was
        back. Here nothing of the batch is acknowledged until both writes have committed; the
        broker holds the rest, bounded by its inflight window. One line per outage, not per try.
        """
        loop = asyncio.get_running_loop()
        failed_at: float | None = None
        tries = 0
        while True:
            try:
                new_ids = await loop.run_in_executor(self._executor, self.store.store, good)
                if letters:
                    await loop.run_in_executor(self._executor, self.store.dead_letter_many, letters)
            except Exception as exc:  # noqa: BLE001 (any refusal: keep the batch, unacked)
                tries += 1
                self.stats.store_retries += 1
                if failed_at is None:
                    failed_at = time.monotonic()
                    self.stats.store_outages += 1
                    _LOGGER.error(
                        "central store refuses writes (%s): not acknowledging; %d message(s) "
                        "wait at the broker, retrying every %.0f s at most",
                        describe_store_error(exc),
                        len(good) + len(letters),
                        self.store_backoff.cap_s,
                    )
                await asyncio.sleep(self.store_backoff.next_delay())
                continue
            self.store_backoff.reset()
            if failed_at is not None:
                _LOGGER.warning(
                    "central store accepts writes again after %.1f s (%d retries)",
                    time.monotonic() - failed_at,
                    tries,
                )
            return new_ids

    def _log_dead_letters(self, bad: list[tuple[_Msg, str]]) -> None:
        # A flood of poison must not become a flood in the journal: once a minute, with the
        # count since. Topic and reason only: the payload stays in the table, out of the logs.
        self.stats.dead_letters += len(bad)
        self._dead_unlogged += len(bad)
        now = time.monotonic()
        if now - self._dead_logged_at >= DEAD_LETTER_LOG_EVERY_S:
            msg, reason = bad[-1]
            _LOGGER.warning(
                "dead-lettered %d message(s) (%d in all); latest on %s: %s",
                self._dead_unlogged,
                self.stats.dead_letters,
                msg.topic,
                reason,
            )
            self._dead_logged_at = now
            self._dead_unlogged = 0

    def _take(self, queue: list[_Msg]) -> _Parsed:
        batch = queue[:BATCH_MAX]
        del queue[: len(batch)]
        return (batch, *self._parse(batch))

    def _parse(self, batch: list[_Msg]) -> tuple[list[Incoming], list[tuple[_Msg, str]]]:
        good: list[Incoming] = []
        bad: list[tuple[_Msg, str]] = []
        for msg in batch:
            try:
                good.append(self._incoming(msg))
            except PayloadError as exc:
                bad.append((msg, f"{exc} ({len(msg.payload)} bytes)"))
            except Exception as exc:  # noqa: BLE001 (any message we cannot handle is set aside)
                # A bug of ours on one message must not stop every gateway's stream: keep it
                # as a dead letter to replay once fixed. The type only: messages can quote data.
                bad.append((msg, f"central failed on it: {type(exc).__name__}"))
        return good, bad

    @staticmethod
    def _incoming(msg: _Msg) -> Incoming:
        # The check-only path: it refuses what decode_reading refuses without building the
        # Reading, which central never reads (it stores the bytes as sent).
        checked = check_reading_payload(msg.payload)
        if checked.gateway_id != gateway_of(msg.topic):
            raise PayloadError("gateway_id does not match the topic's gateway")
        if "\x00" in checked.id:
            # JSON may spell NUL ("\u0000") but PostgreSQL text cannot hold it: such an id
            # would fail the whole batch's insert and come back for ever. The other columns
            # are pattern-checked by the payload check, the payload is stored as sent.
            raise PayloadError("id must not contain NUL")
        return Incoming(
            id=checked.id,
            gateway_id=checked.gateway_id,
            kind=checked.kind,
            measured_at=checked.measured_at,
            # Valid UTF-8: the check parsed it as such.
            payload=msg.payload.decode(),
        )

    def _send_receipts(self, conn: MqttConnection, good: list[Incoming]) -> None:
        by_gateway: dict[str, list[str]] = {}
        for r in good:
            by_gateway.setdefault(r.gateway_id, []).append(r.id)
        for gateway_id, ids in by_gateway.items():
            for start in range(0, len(ids), RECEIPT_CHUNK):
                chunk = ids[start : start + RECEIPT_CHUNK]
                conn.publish(topic_receipts(gateway_id), encode_receipt(chunk))
                self.stats.receipts_sent += len(chunk)


def describe_store_error(exc: BaseException) -> str:
    """The error's type and first line, without the statement or its parameters.

    SQLAlchemy's message quotes the SQL and a batch of parameters: payloads belong in the
    database, not in the journal.
    """
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(cause).__name__}: {first[:200]}" if first else type(cause).__name__
