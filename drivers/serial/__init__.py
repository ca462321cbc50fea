"""Wired (serial) glucose and blood-pressure meters.

Layers, one module each so a reader finds things by file name:

* ``checksums`` — every checksum the serial families use, declared once.
* ``<family>.py`` (e.g. ``onetouch_ultra2``) — pure codecs: bytes in, frozen dataclasses out,
  plus the encode side the simulators use. They never import asyncio or serial.
* ``link`` — an asyncio byte pipe over pyserial; it frames nothing and interprets nothing.
* ``errors`` — typed session failures (link lost, timeout, port missing, meter refused).
* ``line_settings`` — baud rate and framing of a family.
* ``session_base`` — session settings/interface, batch commits with the cursor, readings.
* ``session_<family>.py`` — drive a link through one protocol, turn records into readings and
  commit them through the gateway's sink.
* ``device_time`` — reading a meter's clock against the gateway's (the offset) and the wall
  time to write into it.
* ``record_time`` — a record's UTC time and quality: ``core.time_policy`` applied to a dump.
* ``natural_key`` — the stable per-record key that makes re-reads give the same reading ids.
* ``registry`` — protocol name -> session, stream decoder, line settings and USB ids.
* ``runner`` — the gateway's ``make_runner`` entry point for ``transport = "serial"``.
* ``decode_stream`` — ``gempita decode``: recorded meter bytes -> JSON-ready records, using
  ``decode/<protocol>.py``, where each family's output format lives (not in its codec).

Importing this package does not import pyserial; only ``link`` and ``runner`` do.
"""
