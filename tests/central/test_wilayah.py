"""The city's places file: the example parses, and each mistake is named where it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from central.config import parse_central_config
from central.errors import CentralConfigError
from central.wilayah import load_wilayah, parse_wilayah

ROOT = Path(__file__).resolve().parents[2]

KEC = {"code": "647101", "name": "Balikpapan Selatan"}
KEL = {"code": "6471011001", "name": "Sepinggan", "kecamatan": "647101", "target_15_plus": 10}
SITE = {"id": "kios-1", "name": "Kios 1", "kelurahan": "6471011001"}


def test_the_example_places_every_site() -> None:
    wilayah = load_wilayah(ROOT / "wilayah.example.toml")
    assert wilayah.kelurahan_of_site("kios-karang-jati") == "6471061001"
    assert wilayah.kelurahan_of_site("somewhere-else") is None
    assert wilayah.kelurahan_of_site(None) is None
    assert [k.name for k in wilayah.kelurahan_in("647101")] == ["Damai", "Sepinggan"]
    assert [s.id for s in wilayah.sites_in("6471011001")] == ["kit-sepinggan-1"]
    assert wilayah.kelurahan["6471011001"].target_40_plus == 9000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kota": []}, "unknown table 'kota'"),
        ({"kecamatan": [{**KEC, "code": "6471"}]}, r"kecamatan\[0\]\.code: '6471' must be 6"),
        ({"kecamatan": [KEC, KEC]}, r"kecamatan\[1\]\.code: 647101 is given twice"),
        ({"kecamatan": [{**KEC, "nama": "x"}]}, r"kecamatan\[0\]\.nama: unknown key"),
        ({"kecamatan": [KEC], "kelurahan": [{**KEL, "kecamatan": "647199"}]}, "not a"),
        (
            {"kecamatan": [KEC], "kelurahan": [{**KEL, "code": "6471061001"}]},
            "does not start with its kecamatan",
        ),
        (
            {"kecamatan": [KEC], "kelurahan": [{**KEL, "target_15_plus": -1}]},
            r"kelurahan\[0\]\.target_15_plus: expected a whole number",
        ),
        (
            {"kecamatan": [KEC], "kelurahan": [KEL], "site": [{**SITE, "kelurahan": "1"}]},
            r"site\[0\]\.kelurahan: '1' is not a \[\[kelurahan\]\] code",
        ),
        ({"site": {"id": "x"}}, r"site must be an array of tables"),
    ],
)
def test_mistakes_are_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(CentralConfigError, match=message):
        parse_wilayah(data, "w.toml")


def test_central_config_reads_the_file_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "places.toml").write_text((ROOT / "wilayah.example.toml").read_text())
    config = parse_central_config(
        {"web": {"listen": "127.0.0.1:8480", "wilayah_file": "places.toml"}}, base_dir=tmp_path
    )
    assert config.web is not None
    assert config.web.wilayah.kelurahan_of_site("kit-sepinggan-1") == "6471011001"
    with pytest.raises(CentralConfigError, match=r"web\.wilayah_file: cannot read"):
        parse_central_config({"web": {"wilayah_file": "missing.toml"}}, base_dir=tmp_path)
