"""FHIR R4 for SATUSEHAT: resources from stored readings, bulk export and delivery."""
