"""`wilayah_clause` and `may_see`: the one way later pages keep a user to their kelurahan."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from central.web.auth import Principal, Role, wilayah_clause

_meta = sa.MetaData()
_rows = sa.Table(
    "rows",
    _meta,
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("kelurahan", sa.String(20), nullable=True),
)
ROWS = [(1, "6471011001"), (2, "6471011002"), (3, "6471021001"), (4, None)]


@pytest.fixture
def engine() -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    _meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(_rows.insert(), [{"n": n, "kelurahan": k} for n, k in ROWS])
    return engine


def seen(engine: sa.Engine, principal: Principal) -> list[int]:
    query = sa.select(_rows.c.n).where(wilayah_clause(principal, _rows.c.kelurahan))
    with engine.connect() as conn:
        return sorted(conn.execute(query.order_by(_rows.c.n)).scalars())


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (Principal("dina", Role.DINKES, None, frozenset()), [1, 2, 3, 4]),
        (
            Principal("budi", Role.PUSKESMAS, "p", frozenset({"6471011001", "6471011002"})),
            [1, 2],
        ),
        (Principal("citra", Role.COORDINATOR, None, frozenset({"6471021001"})), [3]),
        # A scoped account whose wilayah is empty sees nothing, never everything.
        (Principal("kosong", Role.PUSKESMAS, "p", frozenset()), []),
    ],
)
def test_each_role_sees_its_rows_only(
    engine: sa.Engine, principal: Principal, expected: list[int]
) -> None:
    assert seen(engine, principal) == expected
    assert [n for n, k in ROWS if principal.may_see(k)] == expected
