"""Captive portal: probes redirect until this phone accepted, then answer as the OS expects."""

from __future__ import annotations

from pathlib import Path

import pytest

import kiosk

from .helpers import client_for, make_rig, running

PORTAL_DIR = Path(kiosk.__file__).parent / "portal"

PROBES = [
    ("/generate_204", 204, ""),
    ("/gen_204", 204, ""),
    (
        "/hotspot-detect.html",
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    ),
    (
        "/library/test/success.html",
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    ),
    ("/connecttest.txt", 200, "Microsoft Connect Test"),
    ("/ncsi.txt", 200, "Microsoft NCSI"),
]


@pytest.mark.parametrize(("path", "status", "body"), PROBES)
async def test_probe_before_and_after_acceptance(path: str, status: int, body: str) -> None:
    rig = make_rig()
    async with running(rig, "10.42.0.50") as phone, client_for(rig, "10.42.0.51") as other:
        before = await phone.get(path, headers={"host": "connectivitycheck.gstatic.com"})
        assert before.status_code == 302
        assert before.headers["location"] == "http://gempita.lan/portal"
        accepted = await phone.post("/portal", data={"accept": "yes", "lang": "id"})
        assert accepted.status_code == 303
        after = await phone.get(path)
        assert (after.status_code, after.text) == (status, body)
        # Acceptance is per client address: another phone still lands on the portal.
        assert (await other.get(path)).status_code == 302
        rig.clock.advance(12 * 3600 + 1)
        assert (await phone.get(path)).status_code == 302


async def test_portal_page_and_windows_redirect() -> None:
    rig = make_rig()
    async with running(rig) as phone:
        page = await phone.get("/portal")
        assert "Wi-Fi Gempita" in page.text and "tidak tersambung ke internet" in page.text
        assert (await phone.get("/redirect")).headers["location"] == "http://gempita.lan/portal"
        await phone.post("/portal", data={"accept": "no"})
        assert (await phone.get("/generate_204")).status_code == 302
        await phone.post("/portal", data={"accept": "yes", "lang": "en"})
        page = await phone.get("/portal?lang=en")
        assert "Connected" in page.text and "/kader/masuk?lang=en" in page.text


def test_config_templates_point_every_name_and_port_80_at_the_kit() -> None:
    dnsmasq = (PORTAL_DIR / "dnsmasq.conf").read_text(encoding="utf-8")
    nft = (PORTAL_DIR / "nftables.conf").read_text(encoding="utf-8")
    hostapd = (PORTAL_DIR / "hostapd.conf").read_text(encoding="utf-8")
    assert "address=/#/10.42.0.1" in dnsmasq
    assert "dhcp-option=114,http://gempita.lan/portal" in dnsmasq  # RFC 8910 captive portal URI
    assert "tcp dport 80 redirect to :8080" in nft
    assert "tcp dport 443 reject with tcp reset" in nft
    assert "interface=wlan0" in hostapd and "wpa=2" in hostapd
