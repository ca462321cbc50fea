"""`gempita decode`: turning a recorded meter stream into JSON-ready records, per protocol.

The codecs (drivers/serial/<protocol>.py) decode frames and records into typed objects; how
those look in the decode command's output is decided here, one module per protocol, each
exporting `decode_stream(data) -> list[dict]` (registered in `drivers.serial.registry`).
"""
