"""`gempita central import` takes central's bundle keys from the [bundles] table of its
configuration, a flag overriding its key; a key given nowhere stops it with exit 2 naming it.
Real processes, real files, real SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bundle.cli import central_args, central_ids, fill, gempita, write_config
from tests.bundle.keys import Keys

pytestmark = pytest.mark.slow


def _central_toml(directory: Path, keys: Keys, db: str) -> Path:
    """Central's configuration with its key files beside it, named relative to it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("ca.crt", "central.crt", "central.key"):
        shutil.copy(keys.directory / name, directory / name)
    shutil.copy(keys.x25519_key_file, directory / "central.x25519")
    path = directory / "central.toml"
    path.write_text(
        f'[database]\nurl = "{db}"\n'
        "[bundles]\n"
        'ca_file = "ca.crt"\ncert_file = "central.crt"\nkey_file = "central.key"\n'
        'x25519_key_file = "central.x25519"\n'
    )
    return path


def test_import_reads_its_keys_from_the_config_file(tmp_path: Path, pki: Keys) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    config = write_config(tmp_path / "kit", pki)
    ids = fill(config, range(4))
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", config).code == 0
    central = _central_toml(tmp_path / "etc", pki, db)

    run = gempita("central", "import", stick, "--config", central)
    assert run.code == 0, run.err + run.out
    assert "imported: 4 new readings of 4 from 1 bundle(s)" in run.out
    assert central_ids(db) == set(ids)


def test_a_flag_overrides_its_bundles_key(tmp_path: Path, pki: Keys, other_pki: Keys) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    config = write_config(tmp_path / "kit", pki)
    fill(config, range(2))
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", config).code == 0
    # The file names a stranger's X25519 key: on its own it cannot open the bundle ...
    central = _central_toml(tmp_path / "etc", pki, db)
    shutil.copy(other_pki.x25519_key_file, central.parent / "central.x25519")
    refused = gempita("central", "import", stick, "--config", central)
    assert refused.code == 1
    assert "nothing imported from it" in refused.err
    # ... and the flag, which wins over the file, can.
    run = gempita(
        "central", "import", stick, "--config", central, "--x25519-key", pki.x25519_key_file
    )
    assert run.code == 0, run.err + run.out
    assert "imported: 2 new readings of 2" in run.out


@pytest.mark.parametrize(
    ("dropped", "named", "flag"),
    [
        ("x25519_key_file", "bundles.x25519_key_file: required", "--x25519-key"),
        ("ca_file", "bundles.ca_file: required", "--ca-file"),
    ],
)
def test_a_key_given_nowhere_exits_2_naming_it(
    tmp_path: Path, pki: Keys, dropped: str, named: str, flag: str
) -> None:
    central = _central_toml(tmp_path / "etc", pki, f"sqlite:///{tmp_path / 'c.db'}")
    text = central.read_text()
    central.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith(dropped)))
    run = gempita("central", "import", tmp_path, "--config", central)
    assert run.code == 2
    assert named in run.err and flag in run.err
    assert "Traceback" not in run.err


def test_a_missing_key_file_in_the_config_exits_2_naming_it(tmp_path: Path, pki: Keys) -> None:
    central = _central_toml(tmp_path / "etc", pki, f"sqlite:///{tmp_path / 'c.db'}")
    (central.parent / "central.key").unlink()
    run = gempita("central", "import", tmp_path, "--config", central)
    assert run.code == 2
    assert "bundles.key_file: file" in run.err and "does not exist" in run.err


def test_a_bad_x25519_key_is_named_and_not_echoed(tmp_path: Path, pki: Keys) -> None:
    central = _central_toml(tmp_path / "etc", pki, f"sqlite:///{tmp_path / 'c.db'}")
    (central.parent / "central.x25519").write_text("zz-not-hex-secretish")
    run = gempita("central", "import", tmp_path, "--config", central)
    assert run.code == 2
    assert "bundles.x25519_key_file:" in run.err and "not hex text" in run.err
    assert "secretish" not in run.err


def test_the_old_flags_alone_still_work(tmp_path: Path, pki: Keys) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    config = write_config(tmp_path / "kit", pki)
    fill(config, range(1))
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", config).code == 0
    run = gempita("central", "import", stick, *central_args(pki, db), "--config", "/dev/null")
    assert run.code == 0, run.err + run.out
