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
    # Identifier systems of our own (no national system names a kiosk meter or a kader).
    device_system: str = "https://gempita.balikpapan.go.id/id/device"
    gateway_system: str = "https://gempita.balikpapan.go.id/id/gateway"
    kader_system: str = "https://gempita.balikpapan.go.id/id/kader"
    # Code system for the meter's own measurement-status flags (body_movement, cuff_loose,
    # irregular_pulse, sensor flags...), carried as Observation.interpretation codings.
    status_system: str = "https://gempita.balikpapan.go.id/fhir/CodeSystem/measurement-status"
    time_quality_extension: str = (
        "https://gempita.balikpapan.go.id/fhir/StructureDefinition/time-quality"
    )

    def __post_init__(self) -> None:
        # Caught here, at configuration time, rather than on the first reading exported.
        if self.subject_identifier == "nik" and self.nik_private_key is None:
            raise ValueError(
                "subject_identifier 'nik' needs nik_private_key (central's X25519 private key)"
            )
        if self.nik_private_key is not None and len(self.nik_private_key) != 32:
            raise ValueError("nik_private_key must be the raw 32-byte X25519 private key")


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
