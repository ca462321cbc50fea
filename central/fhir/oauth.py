"""OAuth2 client credentials for SATUSEHAT: one token, cached until shortly before it expires.

SATUSEHAT gives each Organization a client id and secret; the token endpoint takes them as
form fields with `grant_type=client_credentials` in the query and answers `access_token` and
`expires_in` (seconds, which it sends as a string). The secret is never logged nor put in an
error message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

_LOGGER = logging.getLogger(__name__)

# A token this close to its expiry is renewed before use: a Bundle POSTed with it must not
# arrive after it lapsed.
EXPIRY_MARGIN_S = 60.0


class FhirDeliveryError(Exception):
    """Root of the errors of FHIR delivery (central/fhir/oauth.py, central/fhir/delivery.py)."""


class CredentialsRefusedError(FhirDeliveryError):
    """The token endpoint refused the client id/secret: a person must fix the configuration."""


class TokenUnavailableError(FhirDeliveryError):
    """The token endpoint could not be reached or failed (5xx, timeout): try again later."""


class TokenSource:
    """Hands out a bearer token, asking the token endpoint only when the cached one is old."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        margin_s: float = EXPIRY_MARGIN_S,
    ) -> None:
        self._client = client
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._clock = clock
        self._margin_s = margin_s
        self._token: str | None = None
        self._valid_until = 0.0
        self.fetched = 0  # tokens obtained, for status and tests

    async def token(self) -> str:
        if self._token is None or self._clock() >= self._valid_until:
            self._token = await self._fetch()
        return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the FHIR server said 401: it expired or was revoked)."""
        self._token = None

    async def _fetch(self) -> str:
        asked_at = self._clock()
        try:
            response = await self._client.post(
                self._token_url,
                params={"grant_type": "client_credentials"},
                data={"client_id": self._client_id, "client_secret": self._secret},
            )
        except httpx.HTTPError as exc:
            raise TokenUnavailableError(
                f"cannot reach the OAuth token endpoint {self._token_url}: "
                f"{type(exc).__name__}; will retry"
            ) from exc
        if response.status_code in (400, 401, 403):
            raise CredentialsRefusedError(
                f"the OAuth token endpoint {self._token_url} refused client id "
                f"{self._client_id!r} (HTTP {response.status_code}"
                f"{_oauth_error(response)}): check the client id and secret files for this "
                "Organization (a secret may have expired or been rotated in the SATUSEHAT "
                "portal)"
            )
        if response.status_code != 200:
            raise TokenUnavailableError(
                f"the OAuth token endpoint {self._token_url} answered HTTP "
                f"{response.status_code}; will retry"
            )
        try:
            body: Any = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenUnavailableError(
                f"the OAuth token endpoint {self._token_url} answered without a usable "
                "access_token/expires_in; will retry"
            ) from exc
        self._valid_until = asked_at + max(0.0, lifetime - self._margin_s)
        self.fetched += 1
        _LOGGER.debug("OAuth token obtained, valid for %.0f s", lifetime)
        return token


def _oauth_error(response: httpx.Response) -> str:
    """The RFC 6749 `error` code of a refusal (never its description: it may echo input)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return f", {code}" if isinstance(code, str) and code.isidentifier() else ""
