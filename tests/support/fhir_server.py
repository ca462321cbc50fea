"""A local FHIR R4 server that stands in for SATUSEHAT in tests (the real one is not reachable).

FastAPI + uvicorn in a thread, on a free loopback port:

- `POST /oauth2/token`: OAuth2 client credentials (SATUSEHAT's scheme: form fields client_id
  and client_secret, `grant_type=client_credentials`); a wrong secret gets 401 JSON.
- `POST /` with a transaction Bundle: a valid bearer token is required (401 otherwise); every
  entry's resource is validated with `fhir.resources` (R4B, the 4.3 technical correction of
  R4: the 8.x package's default models are R5 and it ships no 4.0.1 models); an invalid one
  gets 400 with an OperationOutcome; a conditional create (`If-None-Exist:
  identifier=system|value`) whose identifier is stored answers 200 with the existing id and
  creates nothing. The Bundle is all-or-nothing: nothing is stored unless every entry is.

Tests steer it through the `FhirTestServer` object: `fail_next` (statuses answered instead of
processing, e.g. 503), `delay_s` (held after storing, before answering), `expire_tokens()`,
and read `resources`, `posts`, `created`, `conditional_hits`, `tokens_issued`.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret-not-for-production"
FHIR_JSON = "application/fhir+json"


def outcome(status: int, text: str, code: str = "invalid") -> JSONResponse:
    return JSONResponse(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        },
        status_code=status,
        media_type=FHIR_JSON,
    )


@dataclass
class FhirTestServer:
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    token_lifetime_s: int = 3600
    host: str = "127.0.0.1"
    port: int = 0
    # Steering (set from the test thread; read under the lock).
    fail_next: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    # What happened.
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    posts: int = 0
    created: int = 0
    conditional_hits: int = 0
    tokens_issued: int = 0
    token_refusals: int = 0
    unauthorized: int = 0
    stored_event: threading.Event = field(default_factory=threading.Event)
    _tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/token"

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (as after its expiry)."""
        with self._lock:
            self._tokens.clear()

    def count(self, resource_type: str) -> int:
        with self._lock:
            return len(self.resources.get(resource_type, {}))

    # -- the app -------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/oauth2/token")
        async def token(request: Request) -> JSONResponse:
            form = await request.form()
            grant = request.query_params.get("grant_type") or form.get("grant_type")
            if grant != "client_credentials":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            if form.get("client_id") != self.client_id or not secrets.compare_digest(
                str(form.get("client_secret", "")), self.client_secret
            ):
                with self._lock:
                    self.token_refusals += 1
                return JSONResponse(
                    {"error": "invalid_client", "error_description": "Invalid client"},
                    status_code=401,
                )
            value = secrets.token_urlsafe(24)
            with self._lock:
                self._tokens[value] = time.monotonic() + self.token_lifetime_s
                self.tokens_issued += 1
            return JSONResponse(
                {
                    "access_token": value,
                    "token_type": "BearerToken",
                    "expires_in": str(self.token_lifetime_s),  # SATUSEHAT sends a string
                }
            )

        @app.post("/")
        async def transaction(request: Request) -> JSONResponse:
            with self._lock:
                self.posts += 1
                scheme, _, value = request.headers.get("authorization", "").partition(" ")
                valid_until = self._tokens.get(value, 0.0) if scheme == "Bearer" else 0.0
                if valid_until < time.monotonic():
                    self.unauthorized += 1
                    return outcome(401, "token missing, expired or unknown", "login")
                if self.fail_next:
                    status = self.fail_next.pop(0)
                    return outcome(status, "injected failure", "transient")
            try:
                bundle = await request.json()
            except ValueError:
                return outcome(400, "body is not JSON", "structure")
            answer = self._transaction(bundle)
            if isinstance(answer, JSONResponse):
                return answer
            self.stored_event.set()
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return JSONResponse(answer, media_type=FHIR_JSON)

        return app

    def _transaction(self, bundle: Any) -> dict[str, Any] | JSONResponse:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            return outcome(400, "expected a Bundle", "structure")
        if bundle.get("type") != "transaction":
            return outcome(400, "expected a transaction Bundle", "structure")
        try:
            get_fhir_model_class("Bundle").model_validate(bundle)
        except ValidationError as exc:
            return outcome(400, f"Bundle: {exc}")
        plans: list[tuple[str, dict[str, Any], str | None]] = []
        for n, entry in enumerate(bundle.get("entry") or []):
            resource = entry.get("resource") or {}
            rtype = str(resource.get("resourceType", ""))
            try:
                get_fhir_model_class(rtype).model_validate(resource)
            except (KeyError, ValueError) as exc:
                # pydantic's ValidationError is a ValueError; an unknown type a KeyError.
                return outcome(400, f"Bundle.entry[{n}].resource ({rtype}): {exc}")
            request = entry.get("request") or {}
            if request.get("method") != "POST" or request.get("url") != rtype:
                return outcome(400, f"Bundle.entry[{n}].request: only POST <type> is served")
            plans.append((rtype, resource, request.get("ifNoneExist")))
        answers = []
        with self._lock:
            # All-or-nothing: the checks above passed for every entry; now store them.
            for rtype, resource, condition in plans:
                existing = self._find(rtype, condition) if condition else None
                if existing is not None:
                    self.conditional_hits += 1
                    answers.append(_entry("200 OK", rtype, existing))
                    continue
                new_id = secrets.token_hex(8)
                self.resources.setdefault(rtype, {})[new_id] = {**resource, "id": new_id}
                self.created += 1
                answers.append(_entry("201 Created", rtype, new_id))
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}

    def _find(self, rtype: str, condition: str) -> str | None:
        name, _, wanted = condition.partition("=")
        if name != "identifier":
            return None
        system, _, value = wanted.rpartition("|")
        for rid, stored in self.resources.get(rtype, {}).items():
            for ident in stored.get("identifier") or []:
                if ident.get("value") == value and (not system or ident.get("system") == system):
                    return rid
        return None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
            # A held answer (delay_s) to a client that was killed must not hold up the stop.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fhir-test-server"
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the FHIR test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = None


def _entry(status: str, rtype: str, rid: str) -> dict[str, Any]:
    return {"response": {"status": status, "location": f"{rtype}/{rid}/_history/1"}}


@pytest.fixture
def fhir_server() -> Iterator[FhirTestServer]:
    server = FhirTestServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
