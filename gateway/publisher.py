"""Publisher: moves committed readings from the outbox to the broker, oldest first.

QoS 1 with an application-level in-flight window. A reading becomes PUBLISHED only on a PUBACK
with a reason code below 0x80; a refusal (e.g. 0x87 not authorized) keeps it PENDING with the
error recorded and a retry time far enough away that a misconfigured ACL does not turn into a
tight loop. Central's receipts (on the gateway's receipts topic) mark readings CONFIRMED.
Readings are published with the payload bytes stored at commit time: never re-stamped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho

from core.backoff import Backoff
from core.errors import PayloadError, PublishError
from core.mqtt import BrokerSettings, MqttConnection
from core.topics import parse_receipt, topic_readings, topic_receipts, topic_status
from gateway import __version__
from gateway.errors import OutboxError
from gateway.outbox import Outbox

_LOGGER = logging.getLogger(__name__)

SCHEMA_STATUS = "gempita.status/1"
NO_MATCHING_SUBSCRIBERS = 0x10
# Rows fetched per round: enough to keep the socket busy, few enough that the payloads held
# in memory at once stay small on a Pi (peak RSS is a target, bench/ (d)). A round arrives as
# one JSON text, parsed, then encoded: larger rounds raised the peak at the same drain rate
# (figures: bench/RESULTS.md, (d)).
FETCH_ROWS = 100


@dataclass(slots=True)
class PublisherState:
    connected: bool = False
    broker: str = ""
    connected_since: float | None = None
    last_publish_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    published_total: int = 0
    refused_total: int = 0
    confirmed_total: int = 0
    unknown_receipts: int = 0
    bad_receipts: int = 0  # malformed receipts: acknowledged and ignored
    resent_total: int = 0  # sent again because their receipts did not come
    unheard_total: int = 0  # PUBACK 0x10 (no subscriber): kept pending, sent again
    connects: int = 0
    # PUBACK refusals (reason code >= 0x80) as they arrived, by "0xNN name": which ACL or
    # quota problem it is, for the metrics endpoint. Not in as_dict: the status has last_error.
    refusals_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "broker": self.broker,
            "connected_since": self.connected_since,
            "last_publish_at": self.last_publish_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "published_total": self.published_total,
            "refused_total": self.refused_total,
            "confirmed_total": self.confirmed_total,
            "unknown_receipts": self.unknown_receipts,
            "bad_receipts": self.bad_receipts,
            "resent_total": self.resent_total,
            "unheard_total": self.unheard_total,
            "connects": self.connects,
        }


@dataclass(slots=True)
class _Session:
    conn: MqttConnection
    inflight: dict[int, int] = field(default_factory=dict)  # mid -> outbox seq
    acked: list[int] = field(default_factory=list)  # seqs PUBACKed, not yet marked
    refused: list[tuple[int, str]] = field(default_factory=list)
    unheard: list[int] = field(default_factory=list)  # PUBACK 0x10: no subscriber got it
    settling: set[int] = field(default_factory=set)  # seqs being marked in the DB right now
    window_free: asyncio.Event = field(default_factory=asyncio.Event)
    ack_ready: asyncio.Event = field(default_factory=asyncio.Event)
    receipts: list[tuple[list[str], int]] = field(default_factory=list)  # ids, mid to ack
    receipt_ready: asyncio.Event = field(default_factory=asyncio.Event)
    last_receipt_at: float = 0.0  # outbox clock; 0: none yet in this session


class Publisher:
    def __init__(
        self,
        outbox: Outbox,
        settings: BrokerSettings,
        gateway_id: str,
        *,
        window: int = 1000,
        backoff: Backoff | None = None,
        error_retry_s: float = 300.0,
        no_subscriber_retry_s: float = 2.0,
        status_interval_s: float = 30.0,
        status_extra: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        receipt_timeout_s: float = 15.0,
        resend_after_s: float = 600.0,
        storage_retry_s: float = 2.0,
        fast_client: Callable[..., paho.Client] | None = None,  # tests: see MqttConnection
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.gateway_id = gateway_id
        self.window = window
        self.backoff = backoff or Backoff()
        self.error_retry_s = error_retry_s
        self.no_subscriber_retry_s = no_subscriber_retry_s
        self.status_interval_s = status_interval_s
        self.status_extra = status_extra or dict
        self.clock = clock
        self.receipt_timeout_s = receipt_timeout_s
        self.storage_retry_s = storage_retry_s
        self.resend_after_s = resend_after_s
        self.state = PublisherState(broker=settings.url)
        self.status_changed = asyncio.Event()
        self._topic = topic_readings(gateway_id)
        self._session: _Session | None = None
        self._logged_errors: dict[str, float] = {}
        self._connection_options: dict[str, Any] = (
            {} if fast_client is None else {"fast_client": fast_client}
        )

    # --- outer loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, publish, and reconnect with backoff, forever (until cancelled)."""
        while True:
            try:
                await self._run_session()
            except (PublishError, OSError) as exc:
                self._error(f"broker {self.settings.url}: {exc}")
            except OutboxError as exc:
                # E.g. the outbox cannot be read: never let it end the gateway (its TaskGroup).
                # Start a new session after the backoff; readings stay safe in the outbox.
                self._error(f"outbox: {exc}")
            finally:
                self.state.connected = False
            delay = self.backoff.next_delay()
            _LOGGER.info("reconnecting to %s in %.1f s", self.settings.url, delay)
            await asyncio.sleep(delay)

    def _warn_unheard(self) -> None:
        now = self.clock()
        if now - self._logged_errors.get("unheard", 0.0) >= 60.0:
            self._logged_errors["unheard"] = now
            _LOGGER.warning(
                "broker has no subscriber for %s (is central running?); readings stay pending "
                "and are sent again every %.0f s",
                self._topic,
                self.no_subscriber_retry_s,
            )

    def _error(self, message: str) -> None:
        now = self.clock()
        self.state.last_error = message
        self.state.last_error_at = now
        # The same error once a minute is enough for the journal.
        if now - self._logged_errors.get(message, 0.0) >= 60.0:
            self._logged_errors[message] = now
            _LOGGER.error("%s", message)
        self.status_changed.set()

    async def _run_session(self) -> None:
        session: _Session | None = None

        def on_publish(mid: int, code: int, name: str) -> None:
            if session is not None:
                self._on_puback(session, mid, code, name)

        def on_message(msg: paho.MQTTMessage) -> None:
            if session is not None:
                self._on_receipt(session, msg)

        conn = MqttConnection(
            self.settings,
            will=(topic_status(self.gateway_id), self._status_payload("offline"), True),
            on_publish=on_publish,
            on_message=on_message,
            manual_ack=True,
            **self._connection_options,
        )
        session = _Session(conn)
        try:
            await conn.connect()
            conn.subscribe(topic_receipts(self.gateway_id), qos=1)
            self._session = session
            self.state.connected = True
            self.state.connected_since = self.clock()
            self.state.connects += 1
            self.backoff.reset()
            _LOGGER.info("connected to %s as %s", self.settings.url, self.settings.client_id)
            self.publish_status()
            tasks = [
                asyncio.create_task(self._pump(session), name="publisher-pump"),
                asyncio.create_task(self._settle_acks(session), name="publisher-acks"),
                asyncio.create_task(self._settle_receipts(session), name="publisher-receipts"),
                asyncio.create_task(self._status_loop(), name="publisher-status"),
                asyncio.create_task(self._watch_receipts(session), name="publisher-resend"),
            ]
            closed = conn.closed
            waiters: list[asyncio.Future[Any]] = [closed, *tasks]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                # A helper task ending with an error is a bug or a lost link: surface it as is.
                if isinstance(result, Exception):
                    raise result
            raise PublishError(closed.result() if closed.done() else "session ended")
        finally:
            if self._session is not None:
                # Leaving on purpose (shutdown): say so, since a clean DISCONNECT does not fire
                # the Last Will.
                with contextlib.suppress(PublishError):
                    conn.publish(
                        topic_status(self.gateway_id),
                        self._status_payload("offline"),
                        retain=True,
                    )
            self._session = None
            await conn.close()

    # --- publishing ---------------------------------------------------------------------------

    async def _pump(self, session: _Session) -> None:
        cursor = 0
        new_pending = self.outbox.new_pending
        outbox = self.outbox
        while True:
            if outbox.rescan:
                # Rows went back to PENDING behind the cursor (requeued for resending).
                outbox.rescan = False
                cursor = 0
            free = self.window - len(session.inflight)
            if free <= 0:
                session.window_free.clear()
                await session.window_free.wait()
                continue
            new_pending.clear()
            skip = session.settling.union(session.inflight.values(), session.acked)
            # Only skipped rows past the cursor can come back: counting all of them re-read and
            # threw away up to a window of rows on every round (a third of a drain's DB time).
            ahead = sum(1 for seq in skip if seq > cursor)
            rows = await self.outbox.fetch_pending(cursor, min(free, FETCH_ROWS) + ahead)
            if not rows:
                # Caught up. Wake on the next commit; rescan from the start now and then for
                # readings sent back to PENDING (refusal retry time passed, requeued).
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that lands as the event is set, and shutdown then hangs in this loop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await new_pending.wait()
                if not new_pending.is_set():
                    cursor = 0
                continue
            publish = session.conn.publish
            try:
                for row in rows:
                    if row.seq not in skip:
                        if free == 0:
                            break
                        session.inflight[publish(self._topic, row.payload)] = row.seq
                        free -= 1
                    cursor = row.seq
            except PublishError:
                # The link just dropped; the session ends when paho reports the disconnect.
                await session.conn.closed
                return

    def _on_puback(self, session: _Session, mid: int, code: int, name: str) -> None:
        seq = session.inflight.pop(mid, None)
        if seq is None:
            return  # status messages and the like
        if code == NO_MATCHING_SUBSCRIBERS:
            # The broker took it but nobody will ever get it (central's shared subscription is
            # not there, e.g. right after a broker restart): not delivered, send again soon.
            session.unheard.append(seq)
        elif code < 0x80:
            session.acked.append(seq)
        else:
            reason = f"0x{code:02X} {name}"
            by_reason = self.state.refusals_by_reason
            by_reason[reason] = by_reason.get(reason, 0) + 1
            session.refused.append((seq, f"broker refused reading: {reason}"))
        session.ack_ready.set()
        session.window_free.set()

    async def _settle_acks(self, session: _Session) -> None:
        while True:
            await session.ack_ready.wait()
            session.ack_ready.clear()
            acked, session.acked = session.acked, []
            refused, session.refused = session.refused, []
            unheard, session.unheard = session.unheard, []
            # The batches as taken (the names below are emptied as each is recorded).
            taken = (acked, unheard, [seq for seq, _ in refused])
            for seqs in taken:
                session.settling.update(seqs)
            try:
                if unheard:
                    await self.outbox.defer(unheard, self.no_subscriber_retry_s)
                    self.state.unheard_total += len(unheard)
                    self._warn_unheard()
                    unheard = []
                if acked:
                    await self.outbox.mark_published(acked)
                    self.state.published_total += len(acked)
                    self.state.last_publish_at = self.clock()
                    acked = []
                while refused:
                    seq, error = refused[0]
                    await self.outbox.mark_refused(seq, error, self.error_retry_s)
                    refused.pop(0)
                    self.state.refused_total += 1
                    self._error(f"{error} (topic {self._topic}; check the broker ACL)")
            except OutboxError as exc:
                # The disk (or the size cap) is full, or the database failed: keep what is
                # not recorded yet in memory and try again soon, and go on delivering what
                # we can. PUBACKed readings put back stay out of the pump (session.acked),
                # so they are not published twice meanwhile. The outbox raised its alarm.
                session.acked[:0] = acked
                session.unheard[:0] = unheard
                session.refused[:0] = refused
                self._error(f"readings delivered but not recorded: {exc}")
                await asyncio.sleep(self.storage_retry_s)
                session.ack_ready.set()
            finally:
                for seqs in taken:
                    session.settling.difference_update(seqs)

    # --- receipts -----------------------------------------------------------------------------

    def _on_receipt(self, session: _Session, msg: paho.MQTTMessage) -> None:
        try:
            ids = parse_receipt(msg.payload)
        except PayloadError as exc:
            self.state.bad_receipts += 1
            now = self.clock()
            # Once a minute at most: a poison receipt may come again and again.
            if now - self._logged_errors.get("bad-receipt", -60.0) >= 60.0:
                self._logged_errors["bad-receipt"] = now
                _LOGGER.warning(
                    "ignoring malformed receipt on %s (%d so far): %s",
                    msg.topic,
                    self.state.bad_receipts,
                    exc,
                )
            session.conn.ack(msg.mid, msg.qos)
            return
        session.receipts.append((ids, msg.mid if msg.qos else -1))
        session.receipt_ready.set()

    async def _settle_receipts(self, session: _Session) -> None:
        while True:
            await session.receipt_ready.wait()
            session.receipt_ready.clear()
            batch, session.receipts = session.receipts, []
            ids = [i for ids, _mid in batch for i in ids]
            try:
                confirmed, unknown = await self.outbox.mark_confirmed(ids)
            except OutboxError as exc:
                # Not recorded: keep the receipts unacknowledged and try again soon (if we
                # die meanwhile the broker sends them again).
                session.receipts[:0] = batch
                self._error(f"receipts not recorded: {exc}")
                await asyncio.sleep(self.storage_retry_s)
                session.receipt_ready.set()
                continue
            session.last_receipt_at = self.outbox.clock()
            self.state.confirmed_total += confirmed
            if unknown:
                # Duplicated receipts (we sent twice) or ids we purged: harmless, counted.
                self.state.unknown_receipts += unknown
                _LOGGER.debug("%d receipt ids were unknown or already confirmed", unknown)
            # Acknowledge the receipts only once the confirmation is committed: if we die
            # before, the broker sends them again.
            for _ids, mid in batch:
                if mid >= 0:
                    session.conn.ack(mid, 1)

    async def _watch_receipts(self, session: _Session) -> None:
        """Send again, promptly, what was published but whose receipt is not coming.

        Receipts die with a broker that is killed (and with central's queue in it): waiting
        for `resend_after_s` (10 minutes) left readings unconfirmed long after the link was
        back. Two cases end the wait sooner; central de-duplicates by id and sends a receipt
        for a duplicate too, so sending again never doubles a reading.

        - After a (re)connect: what was published before it and is still unconfirmed
          `receipt_timeout_s` later (receipts queued for us arrive within seconds) is sent.
        - No receipt for `receipt_timeout_s` while readings published longer ago wait: they
          are sent; if still nothing comes, again after 2x, 4x ... up to `resend_after_s`, so
          a central that is down for hours does not get a copy every few seconds.
        """
        timeout = self.receipt_timeout_s
        clock = self.outbox.clock
        connected_at = clock()
        after_connect_done = False
        quiet_from = connected_at
        gap = timeout
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = clock()
            if session.last_receipt_at > quiet_from:
                quiet_from = session.last_receipt_at
                gap = timeout
            try:
                if not after_connect_done and now - connected_at >= timeout:
                    self._resent(
                        await self.outbox.requeue_published_before(connected_at),
                        "were published before this connection and not confirmed since",
                    )
                    after_connect_done = True
                if now - quiet_from >= gap:
                    resent = await self.outbox.requeue_published_before(now - timeout)
                    self._resent(resent, f"got no receipt for {now - quiet_from:.0f} s")
                    quiet_from = now
                    if resent:
                        gap = min(gap * 2, self.resend_after_s)
            except OutboxError as exc:
                # A full disk: try again on the next tick; the storage alarm is up.
                self._error(f"readings not requeued: {exc}")

    def _resent(self, count: int, why: str) -> None:
        if count:
            self.state.resent_total += count
            _LOGGER.warning("sending %d readings again: they %s", count, why)

    # --- status -------------------------------------------------------------------------------

    def _status_payload(self, state: str, extra: dict[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {
            "schema": SCHEMA_STATUS,
            "gateway_id": self.gateway_id,
            "state": state,
            "version": __version__,
            "at": self.clock(),
        }
        if extra:
            body.update(extra)
        return json.dumps(body, separators=(",", ":")).encode()

    def publish_status(self) -> None:
        session = self._session
        if session is None:
            return
        extra = {"publisher": self.state.as_dict(), **self.status_extra()}
        try:
            session.conn.publish(
                topic_status(self.gateway_id), self._status_payload("online", extra), retain=True
            )
        except PublishError as exc:
            _LOGGER.warning("status not published: %s", exc)

    async def _status_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):  # not wait_for: see _pump
                async with asyncio.timeout(self.status_interval_s):
                    await self.status_changed.wait()
            self.status_changed.clear()
            self.publish_status()
