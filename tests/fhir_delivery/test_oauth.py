"""The OAuth2 client-credentials token source against the local test server's token endpoint."""

from __future__ import annotations

import httpx
import pytest

from central.fhir.oauth import CredentialsRefusedError, TokenSource, TokenUnavailableError
from tests.fhir_delivery.helpers import FakeClock
from tests.support.fhir_server import FhirTestServer
from tests.support.mosquitto import free_port


async def test_a_token_is_cached_until_shortly_before_it_expires(
    fhir_server: FhirTestServer,
) -> None:
    fhir_server.token_lifetime_s = 300
    clock = FakeClock(1000.0)
    async with httpx.AsyncClient() as client:
        tokens = TokenSource(
            client,
            fhir_server.token_url,
            fhir_server.client_id,
            fhir_server.client_secret,
            clock=clock,
            margin_s=60,
        )
        first = await tokens.token()
        clock.now += 239
        assert await tokens.token() == first
        assert fhir_server.tokens_issued == 1
        clock.now += 1  # 60 s before it lapses: renewed
        assert await tokens.token() != first
        assert fhir_server.tokens_issued == 2
        tokens.invalidate()
        await tokens.token()
        assert fhir_server.tokens_issued == 3


async def test_a_wrong_secret_is_refused_with_advice_and_without_the_secret(
    fhir_server: FhirTestServer,
) -> None:
    async with httpx.AsyncClient() as client:
        tokens = TokenSource(client, fhir_server.token_url, fhir_server.client_id, "nope-s3cret")
        with pytest.raises(CredentialsRefusedError) as caught:
            await tokens.token()
    message = str(caught.value)
    assert "HTTP 401, invalid_client" in message
    assert "check the client id and secret" in message
    assert "nope-s3cret" not in message


async def test_an_unreachable_token_endpoint_is_a_transient_error() -> None:
    async with httpx.AsyncClient() as client:
        tokens = TokenSource(client, f"http://127.0.0.1:{free_port()}/token", "id", "secret")
        with pytest.raises(TokenUnavailableError, match="will retry"):
            await tokens.token()
