"""Serial protocol families: name -> session, stream decoder, UART settings, USB ids.

Adding a family is one `register(...)` call at the bottom of this file. Sessions and decoders
are named as ``"module:attribute"`` strings and imported on first use, so looking a protocol up
(``gempita decode``, config validation) imports neither pyserial nor every driver.

USB ids only help find the port: the common USB-serial chips (Prolific, FTDI, WCH) sit in the
cables of many meter brands, so a VID:PID never identifies the protocol by itself. Ids marked
``verified=False`` are what public drivers or the vendors' cable descriptions suggest, not
something we have seen on a cable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from drivers.errors import UsageError
from drivers.serial.line_settings import LineSettings
from drivers.serial.session_base import SessionFactory

StreamDecoder = Callable[[bytes], list[dict[str, object]]]


@dataclass(frozen=True, slots=True)
class UsbId:
    vid: int
    pid: int
    chip: str
    verified: bool = False

    def __str__(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}"

    @classmethod
    def parse(cls, text: str) -> tuple[int, int]:
        """``"067b:2303"`` -> ``(0x067B, 0x2303)``."""
        vid, sep, pid = text.strip().partition(":")
        try:
            ids = int(vid, 16), int(pid, 16)
        except ValueError as exc:
            raise UsageError(f"usb_vid_pid {text!r} must look like '067b:2303'") from exc
        if not sep or not all(0 <= i <= 0xFFFF for i in ids):
            raise UsageError(f"usb_vid_pid {text!r} must look like '067b:2303'")
        return ids


@dataclass(frozen=True, slots=True)
class SerialProtocol:
    name: str
    kind: str  # "glucose" | "blood_pressure" (core.reading.Kind values)
    session: str  # "module:attribute" of a `SessionFactory` (usually the session class)
    stream_decoder: str  # "module:attribute" of a `StreamDecoder`
    line: LineSettings
    usb_ids: tuple[UsbId, ...] = ()
    aliases: tuple[str, ...] = ()
    summary: str = ""

    def load_session(self) -> SessionFactory:
        return cast(SessionFactory, _load(self.session))

    def load_stream_decoder(self) -> StreamDecoder:
        return cast(StreamDecoder, _load(self.stream_decoder))


_PROTOCOLS: dict[str, SerialProtocol] = {}
_ALIASES: dict[str, str] = {}


def register(protocol: SerialProtocol) -> SerialProtocol:
    for key in (protocol.name, *protocol.aliases):
        if key in _PROTOCOLS or key in _ALIASES:
            raise UsageError(f"serial protocol {key!r} registered twice")
    _PROTOCOLS[protocol.name] = protocol
    for alias in protocol.aliases:
        _ALIASES[alias] = protocol.name
    return protocol


def get(name: str) -> SerialProtocol:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return _PROTOCOLS[key]
    except KeyError:
        raise UsageError(
            f"unknown serial protocol {name!r}; use one of {', '.join(names())}"
        ) from None


def names() -> list[str]:
    return sorted(_PROTOCOLS)


def all_protocols() -> list[SerialProtocol]:
    return [_PROTOCOLS[name] for name in names()]


def protocols_for_usb(vid: int, pid: int) -> list[SerialProtocol]:
    """Families whose cables may carry this USB id (usually several: see module docstring)."""
    return [p for p in all_protocols() if any(u.vid == vid and u.pid == pid for u in p.usb_ids)]


def _load(target: str) -> object:
    module_name, sep, attribute = target.partition(":")
    if not sep:
        raise UsageError(f"registry target {target!r} must be 'module:attribute'")
    module = importlib.import_module(module_name)
    try:
        return cast(object, getattr(module, attribute))
    except AttributeError as exc:
        raise UsageError(f"{module_name} has no {attribute!r} (registry target)") from exc


# -- USB ids of meter cables ---------------------------------------------------------------
# `verified=True`: a public driver for that family names this id for the family's own cable.
# Third-party cables with other chips exist; their ids are listed so auto-detect finds them,
# marked unverified.
PROLIFIC_PL2303 = UsbId(0x067B, 0x2303, "Prolific PL2303")
FTDI_FT232R = UsbId(0x0403, 0x6001, "FTDI FT232R")
WCH_CH340 = UsbId(0x1A86, 0x7523, "WCH CH340")
LIFESCAN_CABLES = (
    # glucometerutils uses 067b:2303 as the default cable of its Ultra Easy driver.
    UsbId(0x067B, 0x2303, "Prolific PL2303 (LifeScan OneTouch USB cable)", verified=True),
    UsbId(0x0403, 0x6001, "FTDI FT232R (third-party TRS cable)", verified=False),
    UsbId(0x1A86, 0x7523, "WCH CH340 (third-party TRS cable)", verified=False),
)

# -- registered families: one register(...) per protocol ------------------------------------
register(SerialProtocol(
    "onetouch-ultra2", "glucose",
    session="drivers.serial.session_ultra2:Ultra2Session",
    stream_decoder="drivers.serial.decode.onetouch_ultra2:decode_stream",
    line=LineSettings(9600), usb_ids=LIFESCAN_CABLES, aliases=("onetouch-ultra", "ultra2"),
    summary="LifeScan OneTouch Ultra 2 / Ultra: ASCII DM commands, 9600 8N1",
))
register(SerialProtocol(
    "onetouch-ultraeasy", "glucose",
    session="drivers.serial.session_easy:UltraEasySession",
    stream_decoder="drivers.serial.decode.onetouch_easy:decode_stream",
    line=LineSettings(9600), usb_ids=LIFESCAN_CABLES, aliases=("onetouch-ultramini", "ultraeasy"),
    summary="LifeScan OneTouch Ultra Easy / Ultra Mini: binary STX frames, 9600 8N1",
))

# Contour FTDI cable id from Tidepool's BayerContour manifest; the CP2110 of TaiDoc cables is a
# HID-to-UART bridge with no tty (hidraw only), listed so auto-detection can say why it fails.
BAYER_CONTOUR_FTDI = UsbId(0x1A79, 0x6001, "Bayer Contour FTDI cable")
SILABS_CP2110 = UsbId(0x10C4, 0xEA80, "Silicon Labs CP2110 (HID-to-UART)")
register(SerialProtocol(
    "contour", "glucose",
    session="drivers.serial.session_contour:ContourSession",
    stream_decoder="drivers.serial.decode.contour:decode_stream",
    line=LineSettings(9600), usb_ids=(BAYER_CONTOUR_FTDI,), aliases=("bayer-contour",),
    summary="Bayer/Ascensia Contour: ASTM E1381 frames, E1394 records, 9600 8N1",
))
register(SerialProtocol(
    "taidoc", "glucose",
    session="drivers.serial.session_taidoc:TaiDocSession",
    stream_decoder="drivers.serial.decode.taidoc:decode_stream",
    line=LineSettings(19200), usb_ids=(SILABS_CP2110,), aliases=("td42xx", "taidoc-glucose"),
    summary="TaiDoc TD-42xx glucose meters: 8-byte 0x51 frames, 19200 8N1",
))
register(SerialProtocol(
    "taidoc-bp", "blood_pressure",
    session="drivers.serial.session_taidoc:TaiDocBpSession",
    stream_decoder="drivers.serial.decode.taidoc:decode_stream_bp",
    line=LineSettings(19200), usb_ids=(SILABS_CP2110,), aliases=("taidoc_bp", "fora-bp"),
    summary="TaiDoc/FORA blood-pressure monitors (TD-3128, P30 PLUS): 8-byte frames, 19200 8N1",
))
register(SerialProtocol(
    "beurer-bm58", "blood_pressure",
    session="drivers.serial.session_beurer:BeurerBm58Session",
    stream_decoder="drivers.serial.decode.beurer_bm58:decode_stream",
    line=LineSettings(4800), aliases=("beurer_bm58", "bm58", "beurer-bm55", "beurer-bm65"),
    summary="Beurer BM58/BM55/BM65 serial BP monitors: AA/A4/A2/A3 commands, 4800 8N1",
))
