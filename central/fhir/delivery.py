"""The FHIR delivery worker: stored readings to SATUSEHAT as transaction Bundles.

Each pass takes up to `batch_size` due readings (central/delivery_store.py), asks the mapping
for each one's Bundle entries and POSTs them as one transaction. The server's answer decides
each reading's state:

- 2xx: every reading accepted, with the server's ids from the transaction-response;
- 4xx: the server refused the Bundle as a whole (a transaction is all-or-nothing), so one bad
  reading would hold back the good ones; a Bundle of several is re-sent one reading per
  Bundle, and only the one(s) refused alone are marked failed, with the OperationOutcome;
- 5xx, 408/429, timeouts, connection errors: nothing is known about the readings, so they stay
  queued (attempts and last error kept) and the next try waits a capped exponential backoff;
- a refused OAuth secret: one error a person must act on; the readings stay queued and the
  worker retries slowly (retry_cap_s), never marking a reading failed for it.

A re-send is harmless: every entry is a conditional create on the reading's identifier, so a
Bundle the server took whose answer never reached us (crash, timeout) does not double.
No NIK reaches a log line or a stored reason: the server's diagnostics may echo the
identifier it refused, so every text kept from it is scrubbed of 16-digit runs first.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from central.delivery_store import REASON_MAX, DeliveryStore
from central.fhir.oauth import (
    CredentialsRefusedError,
    FhirDeliveryError,
    TokenSource,
    TokenUnavailableError,
)
from central.fhir.settings import DeliverySettings
from central.records import StoredReading
from core.backoff import Backoff
from core.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)

EntryBuilder = Callable[[StoredReading], list[dict[str, Any]]]
Sleep = Callable[[float], Awaitable[None]]

TASK_NAME = "fhir-delivery"
FHIR_JSON = "application/fhir+json"
# 4xx answers that say "not now" rather than "not this": retried like a 5xx.
_TRANSIENT_4XX = frozenset({408, 425, 429})
# 403 is about the client (an Organization not allowed to write), not about a reading.
_CREDENTIAL_4XX = frozenset({401, 403})
_NIK_LIKE = re.compile(r"(?<!\d)\d{16}(?!\d)")
_OUTCOME_TEXT_MAX = 400


class ServerAnswerError(FhirDeliveryError):
    """The FHIR server's answer could not be used (unreachable, 5xx, unreadable response)."""


def scrub(text: str) -> str:
    """`text` without anything shaped like a NIK (16 digits in a row)."""
    return _NIK_LIKE.sub("[16 digits removed]", text)


@dataclass(slots=True)
class PassResult:
    """What one `deliver_once` did."""

    due: int = 0
    accepted: int = 0
    failed: int = 0
    skipped: int = 0
    retrying: int = 0
    posts: int = 0
    error: str | None = None  # why readings were left queued, if they were
    retry_in_s: float | None = None  # when the worker should try again, after an error


@dataclass(frozen=True, slots=True)
class _Item:
    reading: StoredReading
    entries: list[dict[str, Any]]


@dataclass(slots=True)
class _Accepted:
    server_ids: list[str] = field(default_factory=list)


class DeliveryWorker:
    """Delivers due readings; `run()` loops, `deliver_once()` does one pass (tests, CLI)."""

    def __init__(
        self,
        settings: DeliverySettings,
        store: DeliveryStore,
        build_entries: EntryBuilder,
        *,
        client: httpx.AsyncClient | None = None,
        tokens: TokenSource | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        backoff: Backoff | None = None,
        idle_s: float = 5.0,
    ) -> None:
        self._settings = settings
        self._store = store
        self._build = build_entries
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=settings.timeout_s)
        self._tokens = tokens or TokenSource(
            self._client, settings.token_url, settings.client_id, settings.client_secret
        )
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff or Backoff(
            initial_s=settings.retry_initial_s, cap_s=settings.retry_cap_s
        )
        self._idle_s = idle_s
        self._task: asyncio.Task[None] | None = None
        # The last trouble logged ("" when delivering fine): each change is logged once,
        # not every retry of the same failure.
        self._trouble = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=TASK_NAME)
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._own_client:
            await self._client.aclose()

    async def run(self) -> None:
        """Deliver until cancelled: back-to-back while a backlog lasts, then every idle_s."""
        while True:
            try:
                result = await self.deliver_once()
            except sa.exc.SQLAlchemyError as exc:
                # The database restarting must not end delivery: nothing was marked, so the
                # same readings come up again once it is back.
                self._note_trouble(f"central's database: {type(exc).__name__}")
                await self._sleep(self._backoff.next_delay())
                continue
            if result.retry_in_s is not None:
                await self._sleep(result.retry_in_s)
            elif result.due < self._settings.batch_size:
                await self._sleep(self._idle_s)

    # -- one pass ------------------------------------------------------------------------

    async def deliver_once(self) -> PassResult:
        now = self._clock()
        due = await asyncio.to_thread(self._store.due, now, self._settings.batch_size)
        result = PassResult(due=len(due))
        if not due:
            return result
        items: list[_Item] = []
        skipped: list[str] = []
        unmappable: list[tuple[str, str]] = []
        for reading in due:
            try:
                entries = self._build(reading)
            except Exception as exc:  # noqa: BLE001 - one reading the mapping cannot take must not stop the others
                unmappable.append(
                    (reading.id, scrub(f"cannot be mapped to FHIR: {type(exc).__name__}: {exc}"))
                )
                continue
            if entries:
                items.append(_Item(reading, entries))
            else:
                skipped.append(reading.id)
        if skipped:
            await asyncio.to_thread(self._store.mark_skipped, skipped, now)
            result.skipped += len(skipped)
        if unmappable:
            await asyncio.to_thread(self._store.mark_failed, unmappable, now)
            result.failed += len(unmappable)
            _LOGGER.warning("%d reading(s) could not be mapped to FHIR", len(unmappable))
        if items:
            await self._deliver(items, result)
        if result.error is None:
            self._backoff.reset()
            self._note_trouble("")
        _LOGGER.info(
            "FHIR delivery: %d accepted, %d failed, %d skipped, %d left queued",
            result.accepted,
            result.failed,
            result.skipped,
            result.retrying,
        )
        return result

    async def _deliver(self, items: Sequence[_Item], result: PassResult) -> None:
        try:
            answer = await self._post(items, result)
        except CredentialsRefusedError as exc:
            await self._leave_queued(items, str(exc), self._settings.retry_cap_s, result)
            return
        except (ServerAnswerError, TokenUnavailableError) as exc:
            await self._leave_queued(items, str(exc), self._backoff.next_delay(), result)
            return
        if isinstance(answer, list):
            now = self._clock()
            pairs = [
                (i.reading.id, " ".join(a.server_ids))
                for i, a in zip(items, answer, strict=True)
            ]
            await asyncio.to_thread(self._store.mark_accepted, pairs, now)
            result.accepted += len(pairs)
            return
        if len(items) > 1:
            # The transaction failed as a whole: find which reading(s) the server refuses.
            for n, item in enumerate(items):
                await self._deliver([item], result)
                if result.error is not None:
                    # The server went away meanwhile: the rest wait for the next pass.
                    rest = items[n + 1 :]
                    if rest:
                        await self._leave_queued(
                            rest, result.error, result.retry_in_s or 0.0, result
                        )
                    return
            return
        await asyncio.to_thread(
            self._store.mark_failed, [(items[0].reading.id, answer)], self._clock()
        )
        result.failed += 1

    async def _post(self, items: Sequence[_Item], result: PassResult) -> list[_Accepted] | str:
        """POST one Bundle: the ids per reading, or the refusal's reason (a 4xx)."""
        bundle, owners = _bundle(items)
        body = orjson.dumps(bundle)
        response = await self._send(body, result)
        if response.status_code in _CREDENTIAL_4XX:
            # A cached token the server no longer takes: a fresh one, once.
            self._tokens.invalidate()
            response = await self._send(body, result)
            if response.status_code in _CREDENTIAL_4XX:
                raise CredentialsRefusedError(
                    f"the FHIR server {self._settings.base_url} refused a fresh OAuth token "
                    f"(HTTP {response.status_code}{_outcome_suffix(response)}): check that "
                    "this client is allowed to write to this Organization"
                )
        status = response.status_code
        if 200 <= status < 300:
            return _accepted(response, owners, len(items), self._settings.base_url)
        if status >= 500 or status in _TRANSIENT_4XX or status < 200:
            raise ServerAnswerError(
                f"the FHIR server {self._settings.base_url} answered HTTP {status}; will retry"
            )
        return scrub(f"HTTP {status}: {_outcome_text(response)}")[:REASON_MAX]

    async def _send(self, body: bytes, result: PassResult) -> httpx.Response:
        token = await self._tokens.token()
        result.posts += 1
        try:
            return await self._client.post(
                self._settings.base_url,
                content=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": FHIR_JSON,
                    "Accept": FHIR_JSON,
                },
                timeout=self._settings.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise ServerAnswerError(
                f"no answer from the FHIR server {self._settings.base_url}: "
                f"{type(exc).__name__}; will retry"
            ) from exc

    async def _leave_queued(
        self, items: Sequence[_Item], reason: str, delay_s: float, result: PassResult
    ) -> None:
        now = self._clock()
        reason = scrub(reason)
        await asyncio.to_thread(
            self._store.mark_queued, [i.reading.id for i in items], reason, now + delay_s, now
        )
        result.retrying += len(items)
        result.error = reason
        result.retry_in_s = delay_s
        self._note_trouble(reason)

    def _note_trouble(self, trouble: str) -> None:
        if trouble == self._trouble:
            return
        if trouble:
            _LOGGER.error("FHIR delivery held back: %s", trouble)
        else:
            _LOGGER.info("FHIR delivery resumed")
        self._trouble = trouble


def _bundle(items: Sequence[_Item]) -> tuple[dict[str, Any], list[list[int]]]:
    """The transaction Bundle, and for each reading the indexes of its entries in it.

    Readings of one meter share its Device entry; a Bundle may hold each fullUrl once, so a
    repeated entry is sent once and counted for every reading that has it.
    """
    entries: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}
    owners: list[list[int]] = []
    for item in items:
        mine: list[int] = []
        for entry in item.entries:
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url in index_of:
                mine.append(index_of[full_url])
                continue
            if isinstance(full_url, str):
                index_of[full_url] = len(entries)
            mine.append(len(entries))
            entries.append(entry)
        owners.append(mine)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}, owners


def _accepted(
    response: httpx.Response, owners: list[list[int]], n_items: int, base_url: str
) -> list[_Accepted]:
    unusable = ServerAnswerError(
        # The server took the Bundle but its answer names no ids: re-sending is safe (the
        # creates are conditional) and gets them.
        f"the FHIR server {base_url} accepted a Bundle but its transaction-response does "
        "not give one location per entry; will retry"
    )
    try:
        body = response.json()
        locations = [str(a["response"]["location"]) for a in body["entry"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise unusable from exc
    if len(locations) != len(_distinct(owners)):
        raise unusable
    result = []
    for mine in owners[:n_items]:
        result.append(_Accepted([_resource_id(locations[i]) for i in mine]))
    return result


def _distinct(owners: list[list[int]]) -> set[int]:
    return {i for mine in owners for i in mine}


def _resource_id(location: str) -> str:
    """`Observation/123` from a location such as `https://.../Observation/123/_history/1`."""
    parts = [p for p in location.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def _outcome_text(response: httpx.Response) -> str:
    """The OperationOutcome's diagnostics/details, or the start of whatever body came."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:_OUTCOME_TEXT_MAX] or response.reason_phrase
    texts: list[str] = []
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        for issue in body.get("issue") or []:
            if not isinstance(issue, dict):
                continue
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
            if text:
                where = ",".join(str(e) for e in issue.get("expression") or [])
                texts.append(f"{text} ({where})" if where else str(text))
    if texts:
        return "; ".join(texts)[:_OUTCOME_TEXT_MAX * 2]
    return response.text[:_OUTCOME_TEXT_MAX]


def _outcome_suffix(response: httpx.Response) -> str:
    text = scrub(_outcome_text(response))[:_OUTCOME_TEXT_MAX]
    return f": {text}" if text else ""
