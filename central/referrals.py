"""The referral worklist: residents with a positive result, until someone has followed them up.

`ReferralBook.refresh()` reads the readings stored since the last scan and files each positive
one (central/referral_rules.py) under its resident's pseudonym: joining the resident's open
referral when there is one (raising its severity and pulling its due date forward when the new
result is worse), opening a new episode otherwise. The link table's key is the reading id, so
a reading is filed once however often and however concurrently the scan runs.

Statuses move only along `TRANSITIONS`; every change and note is kept in `referral_events`.
Schema: central/migrations/versions/v0006_referrals.py.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from central.errors import CentralError
from central.fleet_store import fleet_gateways
from central.referral_rules import ReferralRules, Severity, payload_severity
from central.store import metadata, readings
from central.wilayah import Wilayah

_LOGGER = logging.getLogger(__name__)

_SCAN_NAME = "readings"
# Readings are stamped with their receive time before their transaction commits, so one
# committed later may carry an earlier stamp than the scan's mark: each scan looks back this
# far again (re-filing is a no-op) rather than miss it.
_SCAN_OVERLAP_S = 300.0
_REFRESH_LOCK_KEY = 0x67656D7265666572  # "gemrefer"
_NOTE_MAX = 2000

referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pseudonym", sa.String(64), nullable=False),
    sa.Column("episode", sa.Integer, nullable=False),
    sa.Column("first_reading_id", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("first_measured_at", sa.String(32), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("kelurahan", sa.String(20), nullable=True),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("pseudonym", "episode", name="uq_referrals_episode"),
    sa.Index("ix_referrals_kelurahan_due", "kelurahan", "due_date"),
    sa.Index("ix_referrals_pseudonym_status", "pseudonym", "status"),
)
referral_readings = sa.Table(
    "referral_readings",
    metadata,
    sa.Column("reading_id", sa.String(64), primary_key=True),
    sa.Column(
        "referral_id",
        sa.Integer,
        sa.ForeignKey("referrals.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("measured_at", sa.String(32), nullable=False),
)
referral_events = sa.Table(
    "referral_events",
    metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "referral_id",
        sa.Integer,
        sa.ForeignKey("referrals.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("from_status", sa.String(20), nullable=True),
    sa.Column("to_status", sa.String(20), nullable=True),
    sa.Column("detail", sa.String(500), nullable=False),
)
referral_scan = sa.Table(
    "referral_scan",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("received_at", sa.Float, nullable=False),
)


class Status(enum.StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    CAME = "came"  # came to the Puskesmas: the result is being confirmed there
    CONFIRMED = "confirmed"
    NOT_CONFIRMED = "not_confirmed"
    UNREACHABLE = "unreachable"
    DECLINED = "declined"


OPEN = frozenset({Status.NEW, Status.CONTACTED, Status.CAME})
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.CONTACTED, Status.UNREACHABLE, Status.DECLINED}),
    Status.CONTACTED: frozenset({Status.CAME, Status.UNREACHABLE, Status.DECLINED}),
    Status.CAME: frozenset({Status.CONFIRMED, Status.NOT_CONFIRMED}),
    # Reached after all: the follow-up goes on from where it stopped.
    Status.UNREACHABLE: frozenset({Status.CONTACTED}),
    Status.CONFIRMED: frozenset(),
    Status.NOT_CONFIRMED: frozenset(),
    Status.DECLINED: frozenset(),
}


class ReferralError(CentralError):
    """A referral change that cannot be made (the message says why)."""


class TransitionRefused(ReferralError):
    def __init__(self, current: Status, wanted: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: the referral is closed"
        super().__init__(
            f"a referral in status {current.value!r} cannot move to {wanted!r}; allowed: {allowed}"
        )
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True, slots=True)
class Referral:
    id: int
    pseudonym: str
    episode: int
    first_reading_id: str
    severity: Severity
    first_measured_at: str
    due_date: date
    status: Status
    kelurahan: str | None
    notes: str
    updated_by: str | None
    updated_at: float
    overdue: bool

    @property
    def open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True, slots=True)
class LinkedReading:
    id: str
    kind: str
    measured_at: str
    severity: Severity
    gateway_id: str
    values: Mapping[str, object]
    sealed_nik: str | None


@dataclass(frozen=True, slots=True)
class ReferralEvent:
    at: float
    username: str
    kind: str
    from_status: str | None
    to_status: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class _Positive:
    reading_id: str
    pseudonym: str
    measured_at: str
    severity: Severity
    kelurahan: str | None


class ReferralBook:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float],
        wilayah: Wilayah,
        rules: ReferralRules | None = None,
        *,
        utc_offset_h: float = 8.0,  # Balikpapan keeps WITA: a due "today" is its local day
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._wilayah = wilayah
        self._rules = rules or ReferralRules()
        self._offset = timedelta(hours=utc_offset_h)

    def today(self) -> date:
        return (datetime.fromtimestamp(self._clock(), UTC) + self._offset).date()

    def _local_day(self, measured_at: str) -> date:
        return (_parse_time(measured_at) + self._offset).date()

    def due(self, measured_at: str, severity: Severity) -> date:
        return self._local_day(measured_at) + timedelta(days=self._rules.due_days[severity])

    # --- building the worklist -------------------------------------------------------------

    def refresh(self) -> int:
        """File the readings stored since the last scan; returns how many readings it filed."""
        with self._engine.begin() as conn:
            self._lock(conn)
            mark = conn.execute(
                sa.select(referral_scan.c.received_at).where(referral_scan.c.name == _SCAN_NAME)
            ).scalar_one_or_none()
            since = (float(mark) - _SCAN_OVERLAP_S) if mark is not None else None
            found, newest = self._positives(conn, since)
            filed = 0
            for positive in sorted(found, key=lambda p: (p.measured_at, p.reading_id)):
                filed += self._file(conn, positive)
            if newest is not None and (mark is None or newest > float(mark)):
                if mark is None:
                    conn.execute(
                        referral_scan.insert(), {"name": _SCAN_NAME, "received_at": newest}
                    )
                else:
                    conn.execute(
                        referral_scan.update()
                        .where(referral_scan.c.name == _SCAN_NAME)
                        .values(received_at=newest)
                    )
        if filed:
            _LOGGER.info("referrals: filed %d positive readings", filed)
        return filed

    def _lock(self, conn: Connection) -> None:
        # Two refreshes at once would both find a resident without an open referral and both
        # open episode 1: they take turns instead.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_REFRESH_LOCK_KEY)))
        else:
            # Any write takes SQLite's write lock for the rest of the transaction.
            conn.execute(referral_scan.delete().where(sa.false()))

    def _positives(
        self, conn: Connection, since: float | None
    ) -> tuple[list[_Positive], float | None]:
        query = (
            sa.select(
                readings.c.id,
                readings.c.kind,
                readings.c.measured_at,
                readings.c.received_at,
                readings.c.payload,
                fleet_gateways.c.site_id,
            )
            .select_from(
                readings.outerjoin(
                    fleet_gateways, fleet_gateways.c.gateway_id == readings.c.gateway_id
                )
            )
            .where(
                ~sa.exists().where(referral_readings.c.reading_id == readings.c.id),
            )
        )
        if since is not None:
            query = query.where(readings.c.received_at >= since)
        found: list[_Positive] = []
        newest: float | None = None
        for row in conn.execute(query):
            received = float(row.received_at)
            newest = received if newest is None else max(newest, received)
            positive = self._positive(
                str(row.id), str(row.kind), str(row.measured_at), str(row.payload), row.site_id
            )
            if positive is not None:
                found.append(positive)
        return found, newest

    def _positive(
        self, reading_id: str, kind: str, measured_at: str, payload: str, fleet_site: str | None
    ) -> _Positive | None:
        try:
            data = json.loads(payload)
        except ValueError:
            _LOGGER.warning("referrals: reading %s has a payload that is not JSON", reading_id)
            return None
        if not isinstance(data, dict):
            return None
        subject, values = data.get("subject"), data.get("values")
        if not isinstance(subject, dict) or not isinstance(values, dict):
            return None  # not bound to a resident: nobody to follow up
        pseudonym = subject.get("pseudonym")
        if not isinstance(pseudonym, str) or not pseudonym:
            return None
        severity = payload_severity(kind, values, self._rules)
        if severity is None:
            return None
        # The reading's own site first: a kader kit moves between kelurahan in a week.
        site = data.get("site_id")
        kelurahan = self._wilayah.kelurahan_of_site(site if isinstance(site, str) else None)
        if kelurahan is None:
            kelurahan = self._wilayah.kelurahan_of_site(fleet_site)
        return _Positive(reading_id, pseudonym, measured_at, severity, kelurahan)

    def _file(self, conn: Connection, positive: _Positive) -> int:
        now = self._clock()
        current = conn.execute(
            sa.select(referrals)
            .where(
                referrals.c.pseudonym == positive.pseudonym,
                referrals.c.status.in_(sorted(OPEN)),
            )
            .order_by(referrals.c.episode.desc())
            .limit(1)
        ).first()
        due = self.due(positive.measured_at, positive.severity)
        if current is None:
            episode = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(referrals.c.episode), 0)).where(
                    referrals.c.pseudonym == positive.pseudonym
                )
            ).scalar_one()
            referral_id = conn.execute(
                referrals.insert().returning(referrals.c.id),
                {
                    "pseudonym": positive.pseudonym,
                    "episode": int(episode) + 1,
                    "first_reading_id": positive.reading_id,
                    "severity": positive.severity.value,
                    "first_measured_at": positive.measured_at,
                    "due_date": due,
                    "status": Status.NEW.value,
                    "kelurahan": positive.kelurahan,
                    "notes": "",
                    "created_at": now,
                    "updated_by": None,
                    "updated_at": now,
                },
            ).scalar_one()
            self._event(conn, int(referral_id), "-", "opened", None, Status.NEW, positive)
        else:
            referral_id = int(current.id)
            changes: dict[str, object] = {}
            if positive.severity.rank < Severity(current.severity).rank:
                changes["severity"] = positive.severity.value
            if due < current.due_date:
                changes["due_date"] = due
            if current.kelurahan is None and positive.kelurahan is not None:
                changes["kelurahan"] = positive.kelurahan
            if changes:
                changes["updated_at"] = now
                conn.execute(
                    referrals.update().where(referrals.c.id == referral_id).values(**changes)
                )
            self._event(conn, referral_id, "-", "joined", None, None, positive)
        conn.execute(
            referral_readings.insert(),
            {
                "reading_id": positive.reading_id,
                "referral_id": referral_id,
                "severity": positive.severity.value,
                "measured_at": positive.measured_at,
            },
        )
        return 1

    def _event(
        self,
        conn: Connection,
        referral_id: int,
        username: str,
        kind: str,
        from_status: Status | None,
        to_status: Status | None,
        positive: _Positive | None = None,
        detail: str = "",
    ) -> None:
        if positive is not None:
            detail = f"reading {positive.reading_id} ({positive.severity.value})"
        conn.execute(
            referral_events.insert(),
            {
                "referral_id": referral_id,
                "at": self._clock(),
                "username": username[:64],
                "kind": kind,
                "from_status": from_status.value if from_status else None,
                "to_status": to_status.value if to_status else None,
                "detail": detail[:500],
            },
        )

    # --- reading it --------------------------------------------------------------------------

    def worklist(
        self,
        where: sa.ColumnElement[bool],
        *,
        statuses: Iterable[Status] = (),
        severities: Iterable[Severity] = (),
        limit: int | None = None,
    ) -> list[Referral]:
        """Overdue first, then by due date, then the most severe; `where` scopes it (pass
        `wilayah_clause(principal, referrals.c.kelurahan)`)."""
        today = self.today()
        overdue = sa.and_(referrals.c.due_date < today, referrals.c.status.in_(sorted(OPEN)))
        query = sa.select(referrals).where(where)
        wanted_status = sorted(s.value for s in statuses)
        if wanted_status:
            query = query.where(referrals.c.status.in_(wanted_status))
        wanted_severity = sorted(s.value for s in severities)
        if wanted_severity:
            query = query.where(referrals.c.severity.in_(wanted_severity))
        rank = sa.case(
            {s.value: s.rank for s in Severity}, value=referrals.c.severity, else_=len(Severity)
        )
        query = query.order_by(
            sa.case((overdue, 0), else_=1), referrals.c.due_date, rank, referrals.c.id
        )
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [self._referral(row, today) for row in conn.execute(query)]

    def get(self, referral_id: int) -> Referral | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(referrals).where(referrals.c.id == referral_id)).first()
        return self._referral(row, self.today()) if row is not None else None

    @staticmethod
    def _referral(row: sa.Row[tuple[object, ...]], today: date) -> Referral:
        status = Status(str(row.status))
        due = row.due_date
        assert isinstance(due, date)  # the column's type; a Row attribute is untyped
        return Referral(
            id=int(row.id),
            pseudonym=str(row.pseudonym),
            episode=int(row.episode),
            first_reading_id=str(row.first_reading_id),
            severity=Severity(str(row.severity)),
            first_measured_at=str(row.first_measured_at),
            due_date=due,
            status=status,
            kelurahan=None if row.kelurahan is None else str(row.kelurahan),
            notes=str(row.notes),
            updated_by=None if row.updated_by is None else str(row.updated_by),
            updated_at=float(row.updated_at),
            overdue=status in OPEN and due < today,
        )

    def readings_of(self, referral_id: int) -> list[LinkedReading]:
        query = (
            sa.select(
                readings.c.id,
                readings.c.kind,
                readings.c.measured_at,
                readings.c.gateway_id,
                readings.c.payload,
                referral_readings.c.severity,
            )
            .select_from(
                referral_readings.join(readings, readings.c.id == referral_readings.c.reading_id)
            )
            .where(referral_readings.c.referral_id == referral_id)
            .order_by(readings.c.measured_at, readings.c.id)
        )
        linked: list[LinkedReading] = []
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                data = json.loads(str(row.payload))
                subject = data.get("subject") or {}
                sealed = subject.get("sealed_nik") if isinstance(subject, dict) else None
                values = data.get("values")
                linked.append(
                    LinkedReading(
                        id=str(row.id),
                        kind=str(row.kind),
                        measured_at=str(row.measured_at),
                        severity=Severity(str(row.severity)),
                        gateway_id=str(row.gateway_id),
                        values=values if isinstance(values, dict) else {},
                        sealed_nik=sealed if isinstance(sealed, str) and sealed else None,
                    )
                )
        return linked

    def events_of(self, referral_id: int) -> list[ReferralEvent]:
        query = (
            sa.select(referral_events)
            .where(referral_events.c.referral_id == referral_id)
            .order_by(referral_events.c.n)
        )
        with self._engine.connect() as conn:
            return [
                ReferralEvent(
                    at=float(r.at),
                    username=str(r.username),
                    kind=str(r.kind),
                    from_status=r.from_status,
                    to_status=r.to_status,
                    detail=str(r.detail),
                )
                for r in conn.execute(query)
            ]

    # --- working it --------------------------------------------------------------------------

    def change(self, referral_id: int, wanted: str, username: str, note: str = "") -> Referral:
        """Move a referral to `wanted` (with an optional note) or raise TransitionRefused."""
        try:
            target = Status(wanted)
        except ValueError as exc:
            known = ", ".join(s.value for s in Status)
            raise ReferralError(f"{wanted!r} is not a referral status ({known})") from exc
        note = note.strip()[:_NOTE_MAX]
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(referrals.c.status, referrals.c.notes)
                .where(referrals.c.id == referral_id)
                .with_for_update()
            ).first()
            if row is None:
                raise ReferralError(f"referral {referral_id} does not exist")
            current = Status(str(row.status))
            if target not in TRANSITIONS[current]:
                raise TransitionRefused(current, target.value)
            now = self._clock()
            conn.execute(
                referrals.update()
                .where(referrals.c.id == referral_id)
                .values(
                    status=target.value,
                    notes=_append(str(row.notes), note),
                    updated_by=username,
                    updated_at=now,
                )
            )
            self._event(conn, referral_id, username, "status", current, target, detail=note)
        changed = self.get(referral_id)
        assert changed is not None  # referrals are never deleted while the app runs
        return changed

    def add_note(self, referral_id: int, username: str, note: str) -> None:
        note = note.strip()[:_NOTE_MAX]
        if not note:
            raise ReferralError("an empty note: write what was done or learnt")
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(referrals.c.notes).where(referrals.c.id == referral_id).with_for_update()
            ).first()
            if row is None:
                raise ReferralError(f"referral {referral_id} does not exist")
            conn.execute(
                referrals.update()
                .where(referrals.c.id == referral_id)
                .values(
                    notes=_append(str(row.notes), note),
                    updated_by=username,
                    updated_at=self._clock(),
                )
            )
            self._event(conn, referral_id, username, "note", None, None, detail=note)


def _append(notes: str, note: str) -> str:
    if not note:
        return notes
    return f"{notes}\n{note}" if notes else note


def _parse_time(measured_at: str) -> datetime:
    text = measured_at.replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
