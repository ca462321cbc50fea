"""What a deployment decides about its FHIR output (central's configuration fills it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NIK_SYSTEM = "https://fhir.kemkes.go.id/id/nik"


@dataclass(frozen=True, slots=True)
class FhirSettings:
    # SATUSEHAT's Organization IHS id: local identifiers are
    # http://sys-ids.kemkes.go.id/<observation|encounter|location>/<organization_id>.
    organization_id: str
    location_id: str | None = None
    encounter_id: str | None = None
    # "split": systolic and diastolic as two Observations (SATUSEHAT's outpatient guide);
    # "panel": one 85354-9 Observation with components.
    bp_profile: Literal["split", "panel"] = "split"
    # "pseudonym" (default): the subject is the keyed pseudonym only. "nik": central unseals
    # the NIK with `nik_private_key` and sends it as the NIK identifier.
    subject_identifier: Literal["pseudonym", "nik"] = "pseudonym"
    pseudonym_system: str = "https://gempita.balikpapan.go.id/id/pseudonym"
    nik_private_key: bytes | None = None  # raw X25519 private key (32 bytes)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Where and how central POSTs transaction Bundles (SATUSEHAT's OAuth2 scheme)."""

    base_url: str  # FHIR base, e.g. https://api-satusehat.kemkes.go.id/fhir-r4/v1
    token_url: str  # OAuth2 client-credentials token endpoint
    client_id: str
    client_secret: str
    batch_size: int = 100
    timeout_s: float = 30.0
    retry_initial_s: float = 5.0
    retry_cap_s: float = 900.0
