"""What the web app is told by central's [web] table (central/config.py checks it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from central.referral_rules import ReferralRules
from central.wilayah import Wilayah

# A staff member who walks away from a shared Puskesmas PC is signed out after this long.
DEFAULT_SESSION_IDLE_S = 30 * 60
DEFAULT_LOGIN_MAX_FAILURES = 5
DEFAULT_LOGIN_WINDOW_S = 15 * 60
DEFAULT_LOGIN_LOCKOUT_S = 15 * 60


@dataclass(frozen=True, slots=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 0
    # On behind an https reverse proxy: the session cookie is then never sent in clear.
    secure_cookies: bool = False
    session_idle_s: float = DEFAULT_SESSION_IDLE_S
    login_max_failures: int = DEFAULT_LOGIN_MAX_FAILURES
    login_window_s: float = DEFAULT_LOGIN_WINDOW_S
    login_lockout_s: float = DEFAULT_LOGIN_LOCKOUT_S
    page_size: int = 50
    # The city's kecamatan, kelurahan and sites ([web] wilayah_file); empty: none configured.
    wilayah: Wilayah = field(default_factory=Wilayah)
    # The kits' origins (https://kit-07.local) whose kader pages may POST a bundle to
    # /api/bundles from the phone; the upload is authenticated by the bundle's signature.
    upload_origins: tuple[str, ...] = ()
    # When to reach each referral (central/referral_rules.py).
    referral_rules: ReferralRules = field(default_factory=ReferralRules)
    # Central's X25519 private key ([fhir] nik_private_key_file): the worklist unseals a NIK
    # with it for the roles allowed to see one; None, and the NIK stays sealed.
    nik_private_key: bytes | None = field(default=None, repr=False)
