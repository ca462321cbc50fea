"""The kader's day list: residents registered on this kit today and their results.

Kept in SQLite so a kit that reboots in the field keeps its list. It holds the pseudonym, the
NIK sealed for central, a masked NIK, the kader's short label ("Ibu S.") and the resident's
region, sex and age band (what the reading's subject carries to central), never the NIK in
clear nor the birth date; entries older than the current day are purged.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.reading import Sex

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    kader TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    sealed_nik TEXT NOT NULL,
    masked_nik TEXT NOT NULL,
    label TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    consent_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- Added after the first kits shipped: new columns go last, where ALTER TABLE puts them in
    -- an older file, so `SELECT *` and a positional INSERT read both alike.
    region TEXT,
    sex TEXT,
    age_band TEXT,
    UNIQUE (day, pseudonym)
);
CREATE TABLE IF NOT EXISTS result (
    entry_id TEXT NOT NULL REFERENCES entry(id) ON DELETE CASCADE,
    reading_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    band TEXT,
    urgent INTEGER NOT NULL,
    measured_at TEXT NOT NULL,
    kader TEXT,
    PRIMARY KEY (entry_id, reading_id)
);
"""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str  # also the visit id the binder puts into Subject.session_id
    day: str
    kader: str
    pseudonym: str
    sealed_nik: str
    masked_nik: str
    label: str
    consent_version: str
    consent_at: datetime
    created_at: datetime
    # None on entries written before the roster kept them (a kit updated mid-day).
    region: str | None = None
    sex: Sex | None = None
    age_band: str | None = None


@dataclass(frozen=True, slots=True)
class ResultRow:
    reading_id: str
    kind: str
    summary: str
    band: str | None
    urgent: bool
    measured_at: datetime
    kader: str | None = None  # who measured it; None on rows written before it was kept


class Roster:
    def __init__(self, path: str) -> None:
        # FastAPI may call in from its worker threads: one connection behind a lock.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(result)")}
        if "kader" not in columns:  # a kit's roster file from before the column existed
            self._db.execute("ALTER TABLE result ADD COLUMN kader TEXT")
        entry_columns = {row[1] for row in self._db.execute("PRAGMA table_info(entry)")}
        for name in ("region", "sex", "age_band"):
            if name not in entry_columns:  # a roster file from before the cascade fields
                self._db.execute(f"ALTER TABLE entry ADD COLUMN {name} TEXT")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(
        self,
        *,
        day: str,
        kader: str,
        pseudonym: str,
        sealed_nik: str,
        masked_nik: str,
        label: str,
        consent_version: str,
        consent_at: datetime,
        now: datetime,
        region: str | None = None,
        sex: Sex | None = None,
        age_band: str | None = None,
    ) -> Entry:
        """Register a resident for the day; the same resident again returns the first entry."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM entry WHERE day = ? AND pseudonym = ?", (day, pseudonym)
            ).fetchone()
            if row is not None:
                return _entry(row)
            entry_id = uuid.uuid4().hex
            self._db.execute(
                "INSERT INTO entry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry_id, day, kader, pseudonym, sealed_nik, masked_nik, label,
                    consent_version, consent_at.isoformat(), now.isoformat(), region,
                    sex.value if sex else None, age_band,
                ),
            )  # fmt: skip
            row = self._db.execute("SELECT * FROM entry WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row)

    def get(self, entry_id: str, day: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM entry WHERE id = ? AND day = ?", (entry_id, day)
            ).fetchone()
        return _entry(row) if row else None

    def day_list(self, day: str) -> list[tuple[Entry, list[ResultRow]]]:
        with self._lock:
            entries = [
                _entry(r)
                for r in self._db.execute(
                    "SELECT * FROM entry WHERE day = ? ORDER BY created_at DESC", (day,)
                )
            ]
        return [(entry, self.results(entry.id)) for entry in entries]

    def add_result(
        self,
        entry_id: str,
        *,
        reading_id: str,
        kind: str,
        summary: str,
        band: str | None,
        urgent: bool,
        measured_at: datetime,
        kader: str | None = None,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO result (entry_id, reading_id, kind, summary, band, urgent,"
                " measured_at, kader) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry_id, reading_id, kind, summary, band, int(urgent),
                    measured_at.isoformat(), kader,
                ),
            )  # fmt: skip

    def results(self, entry_id: str) -> list[ResultRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT reading_id, kind, summary, band, urgent, measured_at, kader FROM result "
                "WHERE entry_id = ? ORDER BY measured_at",
                (entry_id,),
            ).fetchall()
        return [
            ResultRow(r[0], r[1], r[2], r[3], bool(r[4]), datetime.fromisoformat(r[5]), r[6])
            for r in rows
        ]

    def purge_before(self, day: str) -> list[str]:
        """Delete earlier days' entries (and their results); returns the deleted entry ids."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM entry WHERE day < ?", (day,))]
            self._db.execute("DELETE FROM entry WHERE day < ?", (day,))
        return ids


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(
        id=row[0],
        day=row[1],
        kader=row[2],
        pseudonym=row[3],
        sealed_nik=row[4],
        masked_nik=row[5],
        label=row[6],
        consent_version=row[7],
        consent_at=datetime.fromisoformat(row[8]),
        created_at=datetime.fromisoformat(row[9]),
        region=row[10],
        sex=Sex(row[11]) if row[11] else None,
        age_band=row[12],
    )
