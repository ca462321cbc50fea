"""`gempita decode --protocol contour`: a captured ASTM transfer -> one JSON-ready dict per
record."""

from __future__ import annotations

from drivers.errors import DecodeError
from drivers.serial import astm
from drivers.serial.contour import (
    STANDARD,
    CommentRecord,
    HeaderRecord,
    OrderRecord,
    PatientRecord,
    Record,
    ResultRecord,
    TerminatorRecord,
    decode_record,
    delimiters_from_header,
)


def record_as_dict(record: Record) -> dict[str, object]:
    if isinstance(record, HeaderRecord):
        return {
            "type": "header",
            "product_code": record.product_code,
            "versions": list(record.versions),
            "serial": record.serial,
            "sku": record.sku,
            "unit": record.unit,
            "settings": dict(record.settings),
            "record_count": record.record_count,
            "spec_version": record.spec_version,
            "processing_id": record.processing_id,
            "meter_time": record.meter_time.isoformat() if record.meter_time else None,
        }
    if isinstance(record, ResultRecord):
        return {
            "type": "result",
            "sequence": record.sequence,
            "test": record.test,
            "value": record.value,
            "unit": record.unit,
            "method": record.method,
            "markers": list(record.markers),
            "glucose_mgdl": record.glucose_mgdl,
            "meal": record.meal,
            "hi": record.hi,
            "lo": record.lo,
            "control": record.control,
            "taken_at": record.taken_at.isoformat(),
        }
    if isinstance(record, TerminatorRecord):
        return {"type": "terminator", "sequence": record.sequence, "code": record.code}
    kind = {PatientRecord: "patient", OrderRecord: "order", CommentRecord: "comment"}[
        type(record)
    ]
    return {"type": kind, "sequence": record.sequence, "fields": list(record.fields)}


_HOST_BYTES = frozenset({astm.ACK, astm.NAK})


def decode_stream(data: bytes) -> list[dict[str, object]]:
    """Decode a captured Contour transfer into one dict per record.

    Host replies (ACK, NAK) interleaved in the capture and retransmitted frames are skipped;
    the first damaged or out-of-sequence frame, stray bytes, or an undecodable record raise
    DecodeError with the offset where that unit starts in `data`.
    """
    receiver = astm.AstmReceiver()
    delimiters = STANDARD
    out: list[dict[str, object]] = []
    for offset, event in receiver.feed_located(data):
        if isinstance(event, astm.FrameRejected):
            raise DecodeError(event.error.reason, event.error.data, offset)
        if isinstance(event, astm.Noise):
            if set(event.data) <= _HOST_BYTES:
                continue
            raise DecodeError("bytes outside any frame", event.data, offset)
        if isinstance(event, astm.FrameAccepted):
            for text in event.records:
                try:
                    if text[:1] == b"H":
                        delimiters = delimiters_from_header(text)
                    record = decode_record(text, delimiters)
                except DecodeError as exc:
                    raise DecodeError(exc.reason, exc.data, offset) from exc
                out.append(record_as_dict(record))
    leftover = receiver.pending()
    if leftover:
        raise DecodeError("stream ends inside a frame", leftover, len(data) - len(leftover))
    return out
