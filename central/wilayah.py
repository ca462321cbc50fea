"""The city's places: kecamatan -> kelurahan -> site, with each kelurahan's target population.

Central's pages count and scope by kelurahan (a Puskesmas account sees the kelurahan of its
wilayah); a reading carries only its gateway's site id, so this table is what places it. The
file is the deployment's (Dinkes knows its sites and its population estimates); a site that is
not in it is shown as "tanpa wilayah" to the whole city only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from central.errors import CentralConfigError

_KECAMATAN_DIGITS = 6  # PPKKCC, as the NIK's first six digits
_KELURAHAN_DIGITS = 10  # PPKKCC + 4, Kemendagri's kelurahan/desa code


@dataclass(frozen=True, slots=True)
class Kecamatan:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Kelurahan:
    code: str
    name: str
    kecamatan: str  # its Kecamatan.code
    # Estimated residents aged 15 and over (hypertension screening, yearly) and 40 and over
    # (diabetes screening); None where Dinkes has not given a figure.
    target_15_plus: int | None = None
    target_40_plus: int | None = None


@dataclass(frozen=True, slots=True)
class Site:
    id: str  # the gateway's gateway.site_id
    name: str
    kelurahan: str  # its Kelurahan.code


@dataclass(frozen=True, slots=True)
class Wilayah:
    kecamatan: Mapping[str, Kecamatan] = field(default_factory=dict)
    kelurahan: Mapping[str, Kelurahan] = field(default_factory=dict)
    sites: Mapping[str, Site] = field(default_factory=dict)

    def kelurahan_of_site(self, site_id: str | None) -> str | None:
        site = self.sites.get(site_id or "")
        return site.kelurahan if site else None

    def kelurahan_in(self, kecamatan: str) -> list[Kelurahan]:
        return sorted(
            (k for k in self.kelurahan.values() if k.kecamatan == kecamatan), key=lambda k: k.name
        )

    def sites_in(self, kelurahan: str) -> list[Site]:
        return sorted((s for s in self.sites.values() if s.kelurahan == kelurahan), key=_name)


def _name(site: Site) -> str:
    return site.name


def load_wilayah(path: Path) -> Wilayah:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise CentralConfigError(f"web.wilayah_file: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CentralConfigError(f"web.wilayah_file: {path} is not valid TOML: {exc}") from exc
    return parse_wilayah(data, str(path))


def parse_wilayah(data: Mapping[str, object], source: str = "<wilayah>") -> Wilayah:
    """Checked: codes of the right shape, every reference known, nothing twice."""
    unknown = set(data) - {"kecamatan", "kelurahan", "site"}
    if unknown:
        raise CentralConfigError(f"{source}: unknown table {sorted(unknown)[0]!r}")
    kecamatan: dict[str, Kecamatan] = {}
    for where, row in _rows(data, "kecamatan", source, {"code", "name"}):
        code = _code(where, row, _KECAMATAN_DIGITS)
        if code in kecamatan:
            raise CentralConfigError(f"{where}.code: {code} is given twice")
        kecamatan[code] = Kecamatan(code, _text(where, row, "name"))
    kelurahan: dict[str, Kelurahan] = {}
    keys = {"code", "name", "kecamatan", "target_15_plus", "target_40_plus"}
    for where, row in _rows(data, "kelurahan", source, keys):
        code = _code(where, row, _KELURAHAN_DIGITS)
        if code in kelurahan:
            raise CentralConfigError(f"{where}.code: {code} is given twice")
        parent = _text(where, row, "kecamatan")
        if parent not in kecamatan:
            raise CentralConfigError(f"{where}.kecamatan: {parent!r} is not a [[kecamatan]] code")
        if not code.startswith(parent):
            raise CentralConfigError(f"{where}.code: {code} does not start with its kecamatan")
        kelurahan[code] = Kelurahan(
            code,
            _text(where, row, "name"),
            parent,
            _count(where, row, "target_15_plus"),
            _count(where, row, "target_40_plus"),
        )
    sites: dict[str, Site] = {}
    for where, row in _rows(data, "site", source, {"id", "name", "kelurahan"}):
        site_id = _text(where, row, "id")
        if site_id in sites:
            raise CentralConfigError(f"{where}.id: {site_id!r} is given twice")
        place = _text(where, row, "kelurahan")
        if place not in kelurahan:
            raise CentralConfigError(f"{where}.kelurahan: {place!r} is not a [[kelurahan]] code")
        sites[site_id] = Site(site_id, str(row.get("name") or site_id), place)
    return Wilayah(kecamatan, kelurahan, sites)


def _rows(
    data: Mapping[str, object], table: str, source: str, known: set[str]
) -> list[tuple[str, Mapping[str, object]]]:
    raw = data.get(table, [])
    if not isinstance(raw, list):
        raise CentralConfigError(f"{source}: {table} must be an array of tables ([[{table}]])")
    rows: list[tuple[str, Mapping[str, object]]] = []
    for index, row in enumerate(raw):
        where = f"{source}: {table}[{index}]"
        if not isinstance(row, dict):
            raise CentralConfigError(f"{where}: expected a table")
        extra = set(row) - known
        if extra:
            raise CentralConfigError(f"{where}.{sorted(extra)[0]}: unknown key")
        rows.append((where, row))
    return rows


def _text(where: str, row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CentralConfigError(f"{where}.{key}: required (a non-empty string)")
    return value.strip()


def _code(where: str, row: Mapping[str, object], digits: int) -> str:
    code = _text(where, row, "code")
    if len(code) != digits or not code.isdigit():
        raise CentralConfigError(f"{where}.code: {code!r} must be {digits} digits")
    return code


def _count(where: str, row: Mapping[str, object], key: str) -> int | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CentralConfigError(f"{where}.{key}: expected a whole number of residents")
    return value
