"""Central's screen texts, Bahasa Indonesia first and English; every key in every language.

The language is `?lang=` on any page (remembered in a cookie), else the cookie, else
Bahasa Indonesia.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "id"
LANGUAGE_NAMES: Mapping[str, str] = {"id": "Bahasa Indonesia", "en": "English"}
LANG_COOKIE = "gempita_central_lang"

TEXTS: Mapping[str, Mapping[str, str]] = {
    "app_name": {"id": "Gempita — Dinas Kesehatan", "en": "Gempita — Health Office"},
    "language": {"id": "Bahasa", "en": "Language"},
    "skip": {"id": "Langsung ke isi", "en": "Skip to content"},
    "login_title": {"id": "Masuk", "en": "Sign in"},
    "login_intro": {
        "id": "Untuk petugas Dinas Kesehatan, Puskesmas dan koordinator kader.",
        "en": "For Health Office staff, Puskesmas staff and kader coordinators.",
    },
    "username": {"id": "Nama pengguna", "en": "User name"},
    "password": {"id": "Kata sandi", "en": "Password"},
    "login": {"id": "Masuk", "en": "Sign in"},
    "logout": {"id": "Keluar", "en": "Sign out"},
    "login_wrong": {
        "id": "Nama pengguna atau kata sandi salah.",
        "en": "Wrong user name or password.",
    },
    "login_limited": {
        "id": "Terlalu banyak percobaan yang salah untuk akun ini. "
        "Coba lagi dalam {minutes} menit.",
        "en": "Too many wrong attempts for this account. Try again in {minutes} minutes.",
    },
    "signed_in_as": {"id": "Masuk sebagai {user} ({role})", "en": "Signed in as {user} ({role})"},
    "role_dinkes": {"id": "Dinas Kesehatan", "en": "Health Office"},
    "role_puskesmas": {"id": "Puskesmas", "en": "Puskesmas"},
    "role_coordinator": {"id": "Koordinator kader", "en": "Kader coordinator"},
    "home_title": {"id": "Beranda", "en": "Home"},
    "home_scope_city": {"id": "Wilayah: seluruh kota.", "en": "Area: the whole city."},
    "home_scope_wilayah": {
        "id": "Wilayah: {count} kelurahan ({codes}).",
        "en": "Area: {count} kelurahan ({codes}).",
    },
    "nav": {"id": "Menu utama", "en": "Main menu"},
    "nav_home": {"id": "Beranda", "en": "Home"},
    "nav_fleet": {"id": "Armada", "en": "Fleet"},
    "nav_fleet_about": {
        "id": "Kios dan kit kader: daring/luring, antrean, jam perangkat.",
        "en": "Kiosks and kader kits: online/offline, backlog, device clocks.",
    },
    "nav_cascade": {"id": "Cakupan", "en": "Cascade"},
    "nav_cascade_about": {
        "id": "Skrining per wilayah: diskrining, positif, dirujuk, terkonfirmasi.",
        "en": "Screening by area: screened, positive, referred, confirmed.",
    },
    "nav_worklist": {"id": "Rujukan", "en": "Worklist"},
    "nav_worklist_about": {
        "id": "Warga dengan hasil mendesak atau positif yang perlu dihubungi.",
        "en": "Residents with an urgent or positive result to contact.",
    },
    "nav_quality": {"id": "Kualitas data", "en": "Data quality"},
    "nav_quality_about": {
        "id": "Jam tidak tepercaya, HI/LO, duplikat, pesan ditolak.",
        "en": "Untrusted clocks, HI/LO, duplicates, refused messages.",
    },
    "nav_audit": {"id": "Audit", "en": "Audit"},
    "nav_audit_about": {
        "id": "Siapa melihat atau mengubah apa, kapan dan dari mana.",
        "en": "Who saw or changed what, when and from where.",
    },
    "not_yet": {"id": "belum tersedia", "en": "not available yet"},
    "not_yet_page": {
        "id": "Halaman ini belum tersedia. Halaman lain di menu sudah bisa dipakai.",
        "en": "This page is not available yet. The other pages in the menu work.",
    },
    "audit_title": {"id": "Log audit", "en": "Audit log"},
    "audit_filter": {"id": "Saring", "en": "Filter"},
    "audit_user": {"id": "Pengguna", "en": "User"},
    "audit_action": {"id": "Tindakan", "en": "Action"},
    "audit_any": {"id": "(semua)", "en": "(any)"},
    "audit_when": {"id": "Waktu (UTC)", "en": "Time (UTC)"},
    "audit_what": {"id": "Apa", "en": "What"},
    "audit_from": {"id": "Dari", "en": "From"},
    "audit_outcome": {"id": "Hasil", "en": "Outcome"},
    "audit_role": {"id": "Peran", "en": "Role"},
    "audit_none": {"id": "Tidak ada catatan.", "en": "No entries."},
    "audit_count": {"id": "{total} catatan", "en": "{total} entries"},
    "page_of": {"id": "Halaman {page} dari {pages}", "en": "Page {page} of {pages}"},
    "previous": {"id": "Sebelumnya", "en": "Previous"},
    "next": {"id": "Berikutnya", "en": "Next"},
    "error_title": {"id": "Terjadi masalah", "en": "Something went wrong"},
    "error_403": {
        "id": "Anda tidak berhak membuka halaman ini. Percobaan ini dicatat.",
        "en": "You are not allowed to open this page. This attempt has been recorded.",
    },
    "error_csrf": {
        "id": "Formulir ini kedaluwarsa atau tidak berasal dari aplikasi ini, jadi ditolak. "
        "Buka halaman lagi dan kirim ulang.",
        "en": "This form has expired or did not come from this application, so it was refused. "
        "Open the page again and send it again.",
    },
    "error_404": {"id": "Halaman tidak ditemukan.", "en": "Page not found."},
    "error_500": {
        "id": "Kesalahan di server. Coba lagi sebentar lagi.",
        "en": "A server error. Please try again shortly.",
    },
    "error_other": {"id": "Permintaan tidak dapat diproses.", "en": "The request failed."},
    "back_home": {"id": "Kembali ke beranda", "en": "Back to home"},
}


def pick_language(query: str | None, cookie: str | None) -> str:
    for choice in (query, cookie):
        if choice is not None and choice in LANGUAGE_NAMES:
            return choice
    return DEFAULT_LANGUAGE


def text(key: str, lang: str, **values: object) -> str:
    """The text for `key` in `lang` (a missing key is a bug: KeyError, caught by the tests)."""
    template = TEXTS[key][lang if lang in LANGUAGE_NAMES else DEFAULT_LANGUAGE]
    return template.format(**values) if values else template
