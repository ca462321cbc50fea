"""Errors of central's FHIR mapping, export and delivery (one root: FhirError)."""

from __future__ import annotations


class FhirError(Exception):
    """Root of central's FHIR errors."""


class UnmappableReadingError(FhirError):
    """A stored reading that cannot become a FHIR resource.

    The reason names the reading id and the field, never a value: payloads carry personal data
    and reasons are logged.
    """

    def __init__(self, reading_id: str, reason: str) -> None:
        self.reading_id = reading_id
        self.reason = reason
        super().__init__(f"reading {reading_id} cannot be mapped to FHIR: {reason}")


class SubjectError(UnmappableReadingError):
    """The reading's subject cannot be named as the deployment asks (no subject, no NIK)."""


class NoSubjectError(SubjectError):
    """The reading was never claimed by a kiosk or kader session: there is no one to name."""
