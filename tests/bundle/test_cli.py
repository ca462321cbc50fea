"""USB round trip through the real commands and real files: outbox (SQLite) -> `gempita bundle
export` -> `gempita central import` (SQLite and PostgreSQL) -> receipt -> `gempita bundle
confirm` -> the outbox shows them confirmed. And every bad input refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.outbox_store import OutboxStore, Row
from tests.bundle.cli import (
    central_args,
    central_dead_letters,
    central_ids,
    fill,
    gempita,
    outbox_path,
    states,
    store_rows,
    write_config,
)
from tests.bundle.keys import Keys

# Each `gempita` call is a real process: a few seconds apiece on a shared machine.
pytestmark = pytest.mark.slow


def _bundles(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.gempita-bundle"))


def _receipts(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.gempita-receipt"))


def test_usb_round_trip(tmp_path: Path, pki: Keys, central_db_url: str) -> None:
    config = write_config(tmp_path, pki)
    ids = fill(config, range(25))
    # Five were confirmed over MQTT already, five are at the broker (PUBLISHED), the rest
    # pending: the bundle carries the twenty unconfirmed, published ones included.
    store = OutboxStore(outbox_path(config))
    store.open()
    store.mark_confirmed(ids[:5])
    store.mark_published(range(6, 11))
    store.close()
    stick = tmp_path / "stick"

    run = gempita("bundle", "export", stick, "--chunk", "8", "-c", config)
    assert run.code == 0, run.err
    assert "exported: 20 unconfirmed readings in 3 bundle(s)" in run.out
    assert len(_bundles(stick)) == 3
    assert set(states(config, ids).values()) == {"confirmed", "pending", "published"}

    run = gempita("central", "import", stick, *central_args(pki, central_db_url))
    assert run.code == 0, run.err + run.out
    assert "imported: 20 new readings of 20 from 3 bundle(s)" in run.out
    assert central_ids(central_db_url) == set(ids[5:])
    assert len(_receipts(stick)) == 3

    # Imported twice (the stick went round again): stored once, confirmed again.
    again = tmp_path / "receipts-again"
    run = gempita(
        "central",
        "import",
        *_bundles(stick),
        "--receipts-dir",
        again,
        *central_args(pki, central_db_url),
    )
    assert run.code == 0, run.err
    assert "imported: 0 new readings of 20 from 3 bundle(s) (20 already stored" in run.out
    assert central_ids(central_db_url) == set(ids[5:])

    run = gempita("bundle", "confirm", stick, "-c", config)
    assert run.code == 0, run.err
    assert "confirmed: 20 readings from 3 receipt(s)" in run.out
    assert set(states(config, ids).values()) == {"confirmed"}

    run = gempita("bundle", "confirm", *_receipts(again), "-c", config)
    assert run.code == 0, run.err
    assert "confirmed: 0 readings from 3 receipt(s) (20 already" in run.out

    run = gempita("bundle", "export", tmp_path / "stick2", "-c", config)
    assert run.code == 0 and "nothing to export" in run.out


def _damaged(good: bytes, how: str) -> bytes:
    if how == "truncated":
        return good[: len(good) // 2]
    if how == "flipped":
        damaged = bytearray(good)
        damaged[len(good) // 2] ^= 0x20
        return bytes(damaged)
    if how == "not a bundle":
        return b"just some file a kader copied onto the stick\n"
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "bundle is truncated"),
        ("flipped", "bundle does not decrypt: it was altered or damaged"),
        ("not a bundle", "not a Gempita bundle"),
    ],
)
def test_damaged_bundle_refused_whole(
    tmp_path: Path, pki: Keys, central_db_url: str, how: str, message: str
) -> None:
    config = write_config(tmp_path, pki)
    fill(config, range(12))
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", config).code == 0
    (good,) = _bundles(stick)
    bad = stick / "bad.gempita-bundle"
    bad.write_bytes(_damaged(good.read_bytes(), how))
    good.unlink()

    run = gempita("central", "import", bad, *central_args(pki, central_db_url))
    assert run.code == 1
    assert message in run.out + run.err
    assert "nothing imported from it" in run.out + run.err
    assert central_ids(central_db_url) == set()
    assert central_dead_letters(central_db_url) == []
    assert _receipts(stick) == []


def test_unknown_gateway_and_wrong_recipient(
    tmp_path: Path, pki: Keys, other_pki: Keys, central_db_url: str
) -> None:
    config = write_config(tmp_path, pki)
    fill(config, range(4))
    # A gw-001 certificate from another deployment's CA, sealed to OUR central's key.
    forged = tmp_path / "forged"
    run = gempita(
        "bundle",
        "export",
        forged,
        "-c",
        config,
        "--cert",
        other_pki.directory / "gw-001.crt",
        "--key",
        other_pki.directory / "gw-001.key",
    )
    assert run.code == 0, run.err
    # The real gateway, but sealed to another central's key.
    elsewhere = tmp_path / "elsewhere"
    run = gempita(
        "bundle", "export", elsewhere, "-c", config, "--central-key", other_pki.x25519_pub_file
    )
    assert run.code == 0, run.err
    good = tmp_path / "good"
    assert gempita("bundle", "export", good, "-c", config).code == 0

    run = gempita(
        "central",
        "import",
        *_bundles(forged),
        *_bundles(elsewhere),
        *_bundles(good),
        *central_args(pki, central_db_url),
    )
    text = run.out + run.err
    assert run.code == 1
    assert "not from this deployment's CA: an unknown gateway" in text
    assert "encrypted for another central key" in text
    # The good one in the same run is still imported; the two bad ones left no trace.
    assert "imported: 4 new readings of 4 from 1 bundle(s)" in run.out
    assert len(central_ids(central_db_url)) == 4
    assert _receipts(forged) == [] and _receipts(elsewhere) == []


def test_receipt_for_another_gateway_is_refused(tmp_path: Path, pki: Keys) -> None:
    db = f"sqlite:///{tmp_path / 'central.db'}"
    first = write_config(tmp_path / "gw1", pki)
    second = write_config(tmp_path / "gw2", pki, gateway_id="gw-002")
    fill(first, range(3))
    other_ids = fill(second, range(3), gateway_id="gw-002")
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", first).code == 0
    assert gempita("central", "import", stick, *central_args(pki, db)).code == 0
    (receipt,) = _receipts(stick)

    run = gempita("bundle", "confirm", receipt, "-c", second)
    assert run.code == 1
    assert "receipt is for gateway 'gw-001', this is 'gw-002'" in run.err
    assert set(states(second, other_ids).values()) == {"pending"}

    tampered = tmp_path / "tampered.gempita-receipt"
    tampered.write_bytes(receipt.read_bytes().replace(b'"gw-001"', b'"gw-002"'))
    run = gempita("bundle", "confirm", tampered, "-c", second)
    assert run.code == 1
    assert "receipt signature does not match its content" in run.err
    assert set(states(second, other_ids).values()) == {"pending"}


def test_bad_reading_in_a_good_bundle_is_a_dead_letter_and_stays(
    tmp_path: Path, pki: Keys, central_db_url: str
) -> None:
    config = write_config(tmp_path, pki)
    ids = fill(config, range(5))
    # A row whose payload claims another gateway: central must not take it from gw-001.
    from gateway.outbox import reading_row
    from tests.support.harness import make_reading

    foreign = reading_row(make_reading(99, gateway_id="gw-999"))
    store_rows(
        config,
        [Row(foreign.id, foreign.device_id, foreign.kind, foreign.measured_at, foreign.payload)],
    )
    stick = tmp_path / "stick"
    assert gempita("bundle", "export", stick, "-c", config).code == 0
    run = gempita("central", "import", stick, *central_args(pki, central_db_url))
    assert run.code == 0, run.err
    assert "5 new, 0 already stored, 1 dead letters" in run.out
    assert central_ids(central_db_url) == set(ids)
    ((topic, reason),) = central_dead_letters(central_db_url)
    assert topic == "gempita/v1/gw-001/readings"
    assert "gateway_id does not match the bundle's gateway" in reason
    # The same stick again: nothing new, and the refused row is not kept a second time.
    again = gempita("central", "import", stick, *central_args(pki, central_db_url))
    assert again.code == 0, again.err
    assert "0 new, 5 already stored, 1 dead letters" in again.out
    assert len(central_dead_letters(central_db_url)) == 1

    assert gempita("bundle", "confirm", stick, "-c", config).code == 0
    assert states(config, [*ids, foreign.id]) == {
        **dict.fromkeys(ids, "confirmed"),
        foreign.id: "pending",  # never confirmed by central: kept
    }


def test_export_beside_a_running_gateway(tmp_path: Path, pki: Keys) -> None:
    config = write_config(tmp_path, pki)
    ids = fill(config, range(6))
    db = f"sqlite:///{tmp_path / 'central.db'}"
    # The running gateway holds the outbox's exclusive lock: export and confirm still work.
    running = OutboxStore(outbox_path(config))
    running.open()
    try:
        stick = tmp_path / "stick"
        run = gempita("bundle", "export", stick, "-c", config)
        assert run.code == 0, run.err
        assert gempita("central", "import", stick, *central_args(pki, db)).code == 0
        run = gempita("bundle", "confirm", stick, "-c", config)
        assert run.code == 0, run.err
        assert running.states(ids) == dict.fromkeys(ids, "confirmed")
        # The gateway's own marks cannot move a confirmed reading back.
        assert running.mark_published(range(1, 7)) == 0
        assert running.requeue_unconfirmed(0) == 0
    finally:
        running.close()


def test_missing_keys_are_named(tmp_path: Path, pki: Keys) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nid = "gw-001"\nstate_dir = "{tmp_path}"\n')
    run = gempita("bundle", "export", tmp_path / "stick", "-c", config)
    assert run.code == 2
    assert "gateway certificate: set mqtt.cert_file in the config or pass it as a flag" in run.err
    run = gempita("bundle", "confirm", tmp_path, "-c", config)
    assert run.code == 2
    assert "CA certificate: set mqtt.ca_file" in run.err


def test_no_outbox_is_named_and_not_created(tmp_path: Path, pki: Keys) -> None:
    config = write_config(tmp_path, pki)  # its state directory was never made
    run = gempita("bundle", "export", tmp_path / "stick", "-c", config)
    assert run.code == 1
    assert "does not exist: check gateway.state_dir" in run.err
    assert not outbox_path(config).exists()
