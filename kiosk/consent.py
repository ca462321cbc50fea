"""Versioned consent texts (UU 27/2022 PDP: purpose, data, retention, rights, controller).

A published version is never edited: change the wording by adding a new version and pointing
the kiosk settings at it, so a stored `consent_version` always names the exact text accepted.
The guardian variant is recorded as `<version>-wali`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GUARDIAN_SUFFIX = "-wali"


@dataclass(frozen=True, slots=True)
class ConsentText:
    title: str
    sections: tuple[tuple[str, str], ...]  # (heading, body)
    agree_adult: str
    guardian_statement: str


CONSENT: Mapping[str, Mapping[str, ConsentText]] = {
    "2026.1": {
        "id": ConsentText(
            title="Persetujuan pemeriksaan dan penggunaan data",
            sections=(
                (
                    "Tujuan",
                    "Skrining tekanan darah dan gula darah, serta tindak lanjut oleh {puskesmas} "
                    "dan Dinas Kesehatan Kota Balikpapan bila hasil Anda perlu diperiksa lagi.",
                ),
                (
                    "Data yang dicatat",
                    "NIK (disandikan, tidak disimpan terbuka di alat ini), hasil ukur, waktu, "
                    "lokasi kios, dan versi persetujuan ini. Data kesehatan adalah data pribadi "
                    "yang bersifat spesifik.",
                ),
                (
                    "Penyimpanan",
                    "Alat ini menghapus data setelah diterima sistem pusat. Sistem pusat "
                    "menyimpannya selama 5 tahun untuk layanan kesehatan, lalu menghapusnya.",
                ),
                (
                    "Hak Anda",
                    "Anda boleh menolak tanpa kehilangan layanan lain, meminta salinan, "
                    "perbaikan atau penghapusan data, dan menarik persetujuan kapan saja "
                    "melalui {puskesmas}.",
                ),
                ("Pengendali data", "Dinas Kesehatan Kota Balikpapan, melalui {puskesmas}."),
            ),
            agree_adult="Saya berusia 18 tahun ke atas, sudah membaca, dan setuju.",
            guardian_statement=(
                "Saya orang tua/wali dari peserta berusia 15–17 tahun, hadir di sini, sudah "
                "membaca keterangan di atas, dan menyetujui pemeriksaan serta penggunaan data "
                "anak saya."
            ),
        ),
        "en": ConsentText(
            title="Consent to screening and use of data",
            sections=(
                (
                    "Purpose",
                    "Blood pressure and blood sugar screening, and follow-up by {puskesmas} and "
                    "the Balikpapan City Health Office if your result needs another check.",
                ),
                (
                    "Data recorded",
                    "Your NIK (encrypted, never stored readable on this device), the results, "
                    "time, kiosk location and this consent version. Health data is specific "
                    "(sensitive) personal data.",
                ),
                (
                    "Retention",
                    "This device deletes the data once the central system has it. The central "
                    "system keeps it for 5 years for health services, then deletes it.",
                ),
                (
                    "Your rights",
                    "You may refuse without losing any other service, ask for a copy, "
                    "correction or deletion, and withdraw consent at any time through "
                    "{puskesmas}.",
                ),
                ("Data controller", "Balikpapan City Health Office, through {puskesmas}."),
            ),
            agree_adult="I am 18 or older, I have read this and I agree.",
            guardian_statement=(
                "I am the parent/guardian of a participant aged 15–17, I am present, I have read "
                "the above and I consent to the screening and the use of my child's data."
            ),
        ),
    },
}


def consent_text(version: str, lang: str) -> ConsentText:
    try:
        return CONSENT[version][lang]
    except KeyError as exc:
        raise KeyError(f"no consent text {version!r} in {lang!r}") from exc
