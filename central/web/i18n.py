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
    # --- /cascade (central/web/page_cascade.py) ---
    "cascade_title": {"id": "Cakupan skrining", "en": "Screening cascade"},
    "cascade_trail": {"id": "Letak wilayah", "en": "Where this place is"},
    "cascade_city": {"id": "Seluruh kota", "en": "Whole city"},
    "cascade_period": {"id": "Periode", "en": "Period"},
    "cascade_period_day": {"id": "Hari", "en": "Day"},
    "cascade_period_week": {"id": "Minggu", "en": "Week"},
    "cascade_period_month": {"id": "Bulan", "en": "Month"},
    "cascade_period_year": {"id": "Tahun", "en": "Year"},
    "cascade_date": {"id": "Tanggal", "en": "Date"},
    "cascade_show": {"id": "Tampilkan", "en": "Show"},
    "cascade_window": {
        "id": "Dari {start} sampai sebelum {end} (WITA).",
        "en": "From {start} to before {end} (WITA).",
    },
    "cascade_summary": {"id": "Ringkasan", "en": "Summary"},
    "cascade_target": {"id": "Sasaran (usia 15+)", "en": "Target population (15+)"},
    "cascade_no_target": {"id": "target belum diisi", "en": "target not set"},
    "cascade_screened": {"id": "Warga diskrining", "en": "Residents screened"},
    "cascade_coverage": {"id": "Cakupan", "en": "Coverage"},
    "cascade_positive": {"id": "Skrining positif", "en": "Screen-positive"},
    "cascade_urgent": {"id": "Hasil gawat", "en": "Urgent results"},
    "cascade_referred": {"id": "Dirujuk", "en": "Referred"},
    "cascade_came": {"id": "Datang ke Puskesmas", "en": "Came to the Puskesmas"},
    "cascade_confirmed": {"id": "Terkonfirmasi", "en": "Confirmed"},
    "cascade_referrals_help": {
        "id": "Dari daftar rujukan, menurut statusnya sekarang, bagi warga yang diskrining di "
        "wilayah dan periode ini. Dirujuk: sudah dihubungi dan diminta ke Puskesmas (dihubungi, "
        "datang, terkonfirmasi atau tidak terkonfirmasi); belum dihubungi, tidak dapat "
        "dihubungi dan menolak tidak dihitung. Datang: sudah datang ke Puskesmas. "
        "Terkonfirmasi: hasilnya dikonfirmasi di Puskesmas.",
        "en": "From the referral worklist, by current status, for residents screened in this "
        "place and period. Referred: reached and sent to the Puskesmas (contacted, came, "
        "confirmed or not confirmed); not yet contacted, unreachable and declined are not "
        "counted. Came: came to the Puskesmas. Confirmed: the result was confirmed there.",
    },
    "cascade_children_city": {"id": "Per kecamatan", "en": "By kecamatan"},
    "cascade_children_kecamatan": {"id": "Per kelurahan", "en": "By kelurahan"},
    "cascade_children_kelurahan": {"id": "Per lokasi", "en": "By site"},
    "cascade_place": {"id": "Wilayah", "en": "Place"},
    "cascade_category": {"id": "Kategori", "en": "Category"},
    "cascade_residents": {"id": "Warga", "en": "Residents"},
    "cascade_unknown": {"id": "tidak diketahui", "en": "unknown"},
    "cascade_by_sex": {"id": "Warga diskrining per jenis kelamin", "en": "Screened by sex"},
    "cascade_by_sex_desc": {
        "id": "Satu batang dibagi menurut jenis kelamin; data lama tanpa keterangan: "
        "tidak diketahui.",
        "en": "One bar split by sex; older readings without it count as unknown.",
    },
    "cascade_sex_female": {"id": "Perempuan", "en": "Female"},
    "cascade_sex_male": {"id": "Laki-laki", "en": "Male"},
    "cascade_sex_unknown": {"id": "tidak diketahui", "en": "unknown"},
    "cascade_by_age": {"id": "Warga diskrining per kelompok umur", "en": "Screened by age band"},
    "cascade_by_age_desc": {
        "id": "Jumlah warga per kelompok umur (tahun).",
        "en": "Residents per age band (years).",
    },
    "cascade_bp": {"id": "Kategori tekanan darah", "en": "Blood pressure categories"},
    "cascade_bp_desc": {
        "id": "Warga per kategori dari pengukuran tekanan darah terakhirnya dalam periode ini.",
        "en": "Residents by the category of their latest blood pressure in this period.",
    },
    "cascade_bp_optimal": {"id": "Optimal", "en": "Optimal"},
    "cascade_bp_normal": {"id": "Normal", "en": "Normal"},
    "cascade_bp_high_normal": {"id": "Normal tinggi", "en": "High-normal"},
    "cascade_bp_grade_1": {"id": "Hipertensi derajat 1", "en": "Hypertension grade 1"},
    "cascade_bp_grade_2": {"id": "Hipertensi derajat 2", "en": "Hypertension grade 2"},
    "cascade_bp_grade_3": {"id": "Hipertensi derajat 3", "en": "Hypertension grade 3"},
    "cascade_glucose": {"id": "Kategori gula darah kapiler", "en": "Capillary glucose categories"},
    "cascade_glucose_desc": {
        "id": "Warga per kategori dari pemeriksaan gula darah terakhirnya (skrining, bukan "
        "diagnosis).",
        "en": "Residents by the category of their latest glucose test (screening, not a "
        "diagnosis).",
    },
    "cascade_glucose_low": {"id": "Rendah", "en": "Low"},
    "cascade_glucose_normal": {"id": "Normal", "en": "Normal"},
    "cascade_glucose_borderline": {"id": "Perlu perhatian", "en": "Borderline"},
    "cascade_glucose_suspected": {"id": "Diduga diabetes", "en": "Suspected diabetes"},
    "cascade_note": {
        "id": "Hanya jumlah: tidak ada data pribadi di halaman ini. Satu warga dihitung sekali "
        "per periode.",
        "en": "Counts only: no personal data on this page. A resident counts once per period.",
    },
    # --- end /cascade ---
    # --- the referral worklist (page_worklist.py) ---
    "wl_title": {"id": "Daftar rujukan", "en": "Referral worklist"},
    "wl_intro": {
        "id": "Warga dengan hasil mendesak atau positif di wilayah Anda. Hari ini: {today}. "
        "Yang lewat tenggat ada di atas.",
        "en": "Residents of your area with an urgent or positive result. Today: {today}. "
        "Overdue ones come first.",
    },
    "wl_status": {"id": "Status", "en": "Status"},
    "wl_severity": {"id": "Tingkat", "en": "Severity"},
    "wl_any": {"id": "(semua)", "en": "(any)"},
    "wl_filter": {"id": "Saring", "en": "Filter"},
    "wl_export": {"id": "Unduh CSV (tanpa NIK)", "en": "Download CSV (no NIK)"},
    "wl_export_nik": {
        "id": "Unduh CSV dengan NIK (dicatat)",
        "en": "Download CSV with NIK (recorded)",
    },
    "wl_count": {"id": "{total} rujukan", "en": "{total} referrals"},
    "wl_more": {
        "id": "Hanya sebagian yang tampil: persempit saringan.",
        "en": "Only some are shown: narrow the filter.",
    },
    "wl_due": {"id": "Tenggat", "en": "Due"},
    "wl_resident": {"id": "Warga", "en": "Resident"},
    "wl_kelurahan": {"id": "Kelurahan", "en": "Kelurahan"},
    "wl_first": {"id": "Hasil pertama (UTC)", "en": "First result (UTC)"},
    "wl_overdue": {"id": "LEWAT TENGGAT", "en": "OVERDUE"},
    "wl_resident_ref": {"id": "#{code} (kunjungan {episode})", "en": "#{code} (episode {episode})"},
    "wl_none": {"id": "Tidak ada rujukan.", "en": "No referrals."},
    "wl_status_new": {"id": "Baru", "en": "New"},
    "wl_status_contacted": {"id": "Sudah dihubungi", "en": "Contacted"},
    "wl_status_came": {"id": "Datang ke Puskesmas", "en": "Came to the Puskesmas"},
    "wl_status_confirmed": {"id": "Terkonfirmasi", "en": "Confirmed"},
    "wl_status_not_confirmed": {"id": "Tidak terkonfirmasi", "en": "Not confirmed"},
    "wl_status_unreachable": {"id": "Tidak dapat dihubungi", "en": "Unreachable"},
    "wl_status_declined": {"id": "Menolak", "en": "Declined"},
    "wl_severity_urgent": {"id": "Mendesak (hari ini)", "en": "Urgent (today)"},
    "wl_severity_soon": {"id": "Segera (minggu ini)", "en": "Soon (this week)"},
    "wl_severity_routine": {"id": "Rutin (bulan ini)", "en": "Routine (this month)"},
    "wl_detail_title": {"id": "Rujukan", "en": "Referral"},
    "wl_back": {"id": "← Kembali ke daftar rujukan", "en": "← Back to the worklist"},
    "wl_refused": {
        "id": "Status itu tidak bisa dipilih dari status sekarang. Pilih salah satu yang ada di "
        "formulir.",
        "en": "That status cannot follow the current one. Choose one offered in the form.",
    },
    "wl_note_empty": {
        "id": "Catatan kosong: tulis apa yang dilakukan atau diketahui.",
        "en": "An empty note: write what was done or learnt.",
    },
    "wl_nik": {"id": "NIK", "en": "NIK"},
    "wl_nik_masked": {"id": "•••• •••• •••• ••••", "en": "•••• •••• •••• ••••"},
    "wl_nik_reveal": {"id": "Tampilkan NIK", "en": "Show NIK"},
    "wl_nik_audited": {
        "id": "Setiap kali NIK ditampilkan, dicatat di log audit.",
        "en": "Every time a NIK is shown it is recorded in the audit log.",
    },
    "wl_nik_no_key": {
        "id": "NIK tidak bisa dibuka: kunci privat pusat belum dipasang "
        "([fhir] nik_private_key_file).",
        "en": "The NIK cannot be opened: central's private key is not configured "
        "([fhir] nik_private_key_file).",
    },
    "wl_nik_none": {
        "id": "Tidak ada NIK tersegel pada hasil warga ini.",
        "en": "No sealed NIK came with this resident's results.",
    },
    "wl_nik_bad": {
        "id": "NIK tersegel tidak bisa dibuka dengan kunci pusat (kunci lain?).",
        "en": "The sealed NIK does not open with central's key (another key?).",
    },
    "wl_readings": {"id": "Hasil pemeriksaan", "en": "Results"},
    "wl_when": {"id": "Waktu ukur (UTC)", "en": "Measured (UTC)"},
    "wl_result": {"id": "Hasil", "en": "Result"},
    "wl_gateway": {"id": "Kios/kit", "en": "Kiosk/kit"},
    "wl_bp_value": {
        "id": "Tekanan darah {sys}/{dia} mmHg",
        "en": "Blood pressure {sys}/{dia} mmHg",
    },
    "wl_glucose_value": {"id": "Gula darah {value} mg/dL", "en": "Blood glucose {value} mg/dL"},
    "wl_glucose_hi": {"id": "Gula darah HI (di atas batas alat)", "en": "Blood glucose HI"},
    "wl_glucose_lo": {"id": "Gula darah LO (di bawah batas alat)", "en": "Blood glucose LO"},
    "wl_fasting": {"id": "puasa", "en": "fasting"},
    "wl_work": {"id": "Tindak lanjut", "en": "Follow-up"},
    "wl_next_status": {"id": "Status baru", "en": "New status"},
    "wl_note": {"id": "Catatan", "en": "Note"},
    "wl_save_status": {"id": "Simpan status", "en": "Save status"},
    "wl_closed": {"id": "Rujukan ini sudah selesai.", "en": "This referral is closed."},
    "wl_add_note": {"id": "Tambah catatan", "en": "Add a note"},
    "wl_save_note": {"id": "Simpan catatan", "en": "Save note"},
    "wl_notes": {"id": "Catatan", "en": "Notes"},
    "wl_history": {"id": "Riwayat", "en": "History"},
    "wl_change": {"id": "Perubahan", "en": "Change"},
    "wl_event_opened": {"id": "Dibuka dari hasil positif", "en": "Opened from a positive result"},
    "wl_event_joined": {
        "id": "Hasil positif baru digabungkan",
        "en": "A new positive result joined",
    },
    "wl_event_note": {"id": "Catatan", "en": "Note"},
    # --- end of the referral worklist ---
    # --- the fleet pages (page_fleet.py) ---
    "fleet_title": {"id": "Armada gateway", "en": "Gateway fleet"},
    "fleet_intro": {
        "id": "Setiap kios dan kit kader dari status terakhirnya. Daftar ini diperbarui sendiri.",
        "en": "Every kiosk and kader kit from its latest status. This list updates itself.",
    },
    "fleet_state": {"id": "Status", "en": "State"},
    "fleet_state_online": {"id": "Terhubung", "en": "Online"},
    "fleet_state_offline": {"id": "Terputus", "en": "Offline"},
    "fleet_kind": {"id": "Jenis", "en": "Kind"},
    "fleet_kind_kiosk": {"id": "Kios", "en": "Kiosk"},
    "fleet_kind_kit": {"id": "Kit kader", "en": "Kader kit"},
    "fleet_alarm": {"id": "Alarm", "en": "Alarm"},
    "fleet_alarms": {"id": "Alarm", "en": "Alarms"},
    "fleet_alarm_any": {"id": "Alarm apa pun", "en": "Any alarm"},
    "fleet_any": {"id": "Semua", "en": "All"},
    "fleet_filter": {"id": "Saring", "en": "Filter"},
    "fleet_rule_offline": {"id": "Terputus", "en": "Offline"},
    "fleet_rule_not_seen": {"id": "Lama tidak terdengar", "en": "Not heard from"},
    "fleet_rule_outbox_full": {"id": "Antrean penuh", "en": "Outbox full"},
    "fleet_rule_storage_error": {"id": "Penyimpanan bermasalah", "en": "Storage error"},
    "fleet_rule_clock_untrusted": {"id": "Jam tidak dipercaya", "en": "Clock untrusted"},
    "fleet_rule_kit_unsynced": {"id": "Kit lama belum terkirim", "en": "Kit not synced"},
    "fleet_rule_device_silent": {"id": "Alat lama tidak terlihat", "en": "Device not seen"},
    "fleet_rule_device_error": {"id": "Galat alat", "en": "Device error"},
    "fleet_rule_reported": {"id": "Dilaporkan gateway", "en": "Reported by the gateway"},
    "fleet_severity_critical": {"id": "Kritis", "en": "Critical"},
    "fleet_severity_warning": {"id": "Peringatan", "en": "Warning"},
    "fleet_severity_info": {"id": "Info", "en": "Info"},
    "fleet_reload": {"id": "Muat ulang", "en": "Reload"},
    "fleet_no_script": {
        "id": "Tanpa JavaScript: tekan Muat ulang untuk status terbaru.",
        "en": "Without JavaScript: press Reload for the latest status.",
    },
    "fleet_live": {"id": "Diperbarui otomatis.", "en": "Updating automatically."},
    "fleet_stale": {
        "id": "Pusat tidak menjawab; mencoba lagi…",
        "en": "Central is not answering; retrying…",
    },
    "fleet_session_ended": {
        "id": "Sesi berakhir: muat ulang halaman untuk masuk lagi.",
        "en": "Session ended: reload the page to sign in again.",
    },
    "fleet_summary": {
        "id": "{total} gateway: {online} terhubung, {offline} terputus, {alarmed} dengan alarm.",
        "en": "{total} gateways: {online} online, {offline} offline, {alarmed} with alarms.",
    },
    "fleet_as_of": {"id": "per {at} UTC", "en": "as of {at} UTC"},
    "fleet_none": {
        "id": "Tidak ada gateway yang cocok di wilayah Anda.",
        "en": "No gateway matches, in your wilayah.",
    },
    "fleet_gateway": {"id": "Gateway", "en": "Gateway"},
    "fleet_place": {"id": "Tempat", "en": "Place"},
    "fleet_last_seen": {"id": "Terakhir terlihat", "en": "Last seen"},
    "fleet_version": {"id": "Versi", "en": "Version"},
    "fleet_backlog": {"id": "Antrean", "en": "Outbox"},
    "fleet_oldest": {"id": "Tertua belum dikonfirmasi", "en": "Oldest unconfirmed"},
    "fleet_no_alarms": {"id": "Tidak ada", "en": "None"},
    "fleet_out_of_policy_n": {
        "id": "{n} alat perlu diperiksa",
        "en": "{n} device(s) out of policy",
    },
    "fleet_unknown": {"id": "tidak diketahui", "en": "unknown"},
    "fleet_since": {"id": "selama {d}", "en": "for {d}"},
    "fleet_ago": {"id": "{d} lalu", "en": "{d} ago"},
    "fleet_dur_s": {"id": "{n} detik", "en": "{n} s"},
    "fleet_dur_m": {"id": "{n} menit", "en": "{n} min"},
    "fleet_dur_h": {"id": "{n} jam {m} menit", "en": "{n} h {m} min"},
    "fleet_dur_d": {"id": "{n} hari {h} jam", "en": "{n} d {h} h"},
    "fleet_trail": {"id": "Letak halaman", "en": "Where you are"},
    "fleet_detail_title": {"id": "Gateway {id}", "en": "Gateway {id}"},
    "fleet_clock": {"id": "Jam gateway", "en": "Gateway clock"},
    "fleet_clock_trusted": {"id": "dapat dipercaya", "en": "trusted"},
    "fleet_clock_untrusted": {"id": "tidak dapat dipercaya", "en": "untrusted"},
    "fleet_outbox": {"id": "Antrean data", "en": "Outbox"},
    "fleet_outbox_pending": {"id": "menunggu", "en": "pending"},
    "fleet_outbox_published": {"id": "terkirim", "en": "published"},
    "fleet_outbox_unconfirmed": {"id": "belum dikonfirmasi", "en": "unconfirmed"},
    "fleet_outbox_refused": {"id": "ditolak", "en": "refused"},
    "fleet_outbox_max_readings": {"id": "kapasitas", "en": "capacity"},
    "fleet_devices": {"id": "Alat", "en": "Devices"},
    "fleet_device": {"id": "Alat", "en": "Device"},
    "fleet_device_kind": {"id": "Jenis alat", "en": "Device kind"},
    "fleet_last_reading": {"id": "Pengukuran terakhir", "en": "Last reading"},
    "fleet_battery": {"id": "Baterai", "en": "Battery"},
    "fleet_errors": {"id": "Galat", "en": "Errors"},
    "fleet_failures": {"id": "{n} kali gagal", "en": "{n} failures"},
    "fleet_no_devices": {"id": "Gateway ini tidak melaporkan alat.", "en": "No devices reported."},
    "fleet_assurance": {"id": "Kelayakan alat", "en": "Kit assurance"},
    "fleet_assurance_ok": {"id": "Layak", "en": "Within policy"},
    "fleet_assurance_out_of_policy": {"id": "Alat perlu diperiksa", "en": "Out of policy"},
    "fleet_assurance_unknown": {"id": "Belum dapat dinilai", "en": "Not yet judged"},
    "fleet_assurance_none": {"id": "tidak dinilai", "en": "not judged"},
    "fleet_reason_calibration_overdue": {
        "id": "Kalibrasi lewat jatuh tempo",
        "en": "Calibration overdue",
    },
    "fleet_reason_no_passing_control": {
        "id": "Tidak ada uji kontrol yang lulus baru-baru ini",
        "en": "No recent passing control test",
    },
    "fleet_reason_control_failed": {"id": "Uji kontrol gagal", "en": "Control test failed"},
    "fleet_reason_strips_expired": {"id": "Strip kedaluwarsa", "en": "Strips expired"},
    "fleet_reason_control_vial_expired": {
        "id": "Larutan kontrol kedaluwarsa",
        "en": "Control solution expired",
    },
    "fleet_reason_battery_critical": {"id": "Baterai kritis", "en": "Battery critical"},
    "fleet_reason_calibration_not_entered": {
        "id": "Tanggal kalibrasi belum diisi",
        "en": "Calibration date not entered",
    },
    "fleet_reason_strips_not_entered": {
        "id": "Lot strip belum diisi",
        "en": "Strip lot not entered",
    },
    "fleet_reason_control_range_not_entered": {
        "id": "Rentang larutan kontrol belum diisi",
        "en": "Control range not entered",
    },
    "fleet_timeline": {"id": "Riwayat terbaru", "en": "Recent timeline"},
    "fleet_when": {"id": "Waktu", "en": "When"},
    "fleet_event": {"id": "Kejadian", "en": "Event"},
    "fleet_event_code": {"id": "Kode", "en": "Code"},
    "fleet_event_detail": {"id": "Rincian", "en": "Detail"},
    "fleet_event_first_seen": {"id": "Pertama terlihat", "en": "First seen"},
    "fleet_event_went_online": {"id": "Terhubung kembali", "en": "Came online"},
    "fleet_event_went_offline": {"id": "Terputus", "en": "Went offline"},
    "fleet_event_alarm_raised": {"id": "Alarm muncul", "en": "Alarm raised"},
    "fleet_event_alarm_cleared": {"id": "Alarm selesai", "en": "Alarm cleared"},
    "fleet_event_device_error": {"id": "Galat alat", "en": "Device error"},
    "fleet_no_events": {"id": "Belum ada kejadian.", "en": "No events yet."},
    # --- end of the fleet pages ---
    # --- the data-quality page (page_quality.py) ---
    "quality_title": {"id": "Kualitas data", "en": "Data quality"},
    "quality_trail": {"id": "Letak halaman", "en": "Where this page is"},
    "quality_all_gateways": {"id": "Semua gateway", "en": "All gateways"},
    "quality_window": {
        "id": "Diterima pusat dari {start} sampai sebelum {end} (WITA).",
        "en": "Received by central from {start} to before {end} (WITA).",
    },
    "quality_per_gateway": {"id": "Per gateway", "en": "Per gateway"},
    "quality_gateway": {"id": "Gateway", "en": "Gateway"},
    "quality_device": {"id": "Alat", "en": "Device"},
    "quality_devices": {"id": "Per alat", "en": "Per device"},
    "quality_gateway_total": {"id": "Jumlah gateway ini", "en": "This gateway's totals"},
    "quality_site": {"id": "Lokasi", "en": "Site"},
    "quality_no_site": {"id": "lokasi tidak dikenal", "en": "unknown site"},
    "quality_total": {"id": "Jumlah ({gateways} gateway)", "en": "Total ({gateways} gateways)"},
    "quality_nothing": {
        "id": "Tidak ada data yang diterima pada periode ini.",
        "en": "Nothing was received in this period.",
    },
    "quality_readings": {"id": "Hasil diterima", "en": "Readings received"},
    "quality_untrusted_clock": {"id": "Jam tidak tepercaya", "en": "Untrusted clock"},
    "quality_control_solution": {"id": "Uji larutan kontrol", "en": "Control solution"},
    "quality_hi_lo": {"id": "HI/LO", "en": "HI/LO"},
    "quality_unbound": {"id": "Tanpa warga", "en": "Unbound"},
    "quality_out_of_policy": {"id": "Alat di luar kebijakan", "en": "Device out of policy"},
    "quality_duplicates": {"id": "Duplikat diterima", "en": "Duplicates received"},
    "quality_dead_letters": {"id": "Pesan ditolak", "en": "Dead letters"},
    "quality_gateway_only": {
        "id": "Duplikat dan pesan ditolak dihitung per gateway saja, tidak per alat.",
        "en": "Duplicates and dead letters are counted per gateway only, not per device.",
    },
    "quality_problem": {"id": "Masalah", "en": "Problem"},
    "quality_problems": {"id": "Jumlah masalah", "en": "Problems"},
    "quality_count": {"id": "Jumlah", "en": "Count"},
    "quality_chart_total": {"id": "Masalah menurut jenis", "en": "Problems by kind"},
    "quality_chart_total_desc": {
        "id": "Jumlah tiap jenis masalah data pada periode ini, semua gateway yang terlihat.",
        "en": "Each kind of data problem in this period, over every gateway shown.",
    },
    "quality_chart_worst": {
        "id": "Gateway dengan masalah terbanyak",
        "en": "Gateways with the most problems",
    },
    "quality_chart_worst_desc": {
        "id": "Sepuluh gateway dengan jumlah masalah terbanyak pada periode ini.",
        "en": "The ten gateways with the most problems in this period.",
    },
    "quality_chart_gateway": {"id": "Masalah gateway ini", "en": "This gateway's problems"},
    "quality_chart_gateway_desc": {
        "id": "Jumlah tiap jenis masalah data gateway ini pada periode ini.",
        "en": "Each kind of data problem of this gateway in this period.",
    },
    "quality_note": {
        "id": "Periode menurut waktu pusat menerima data, bukan waktu pengukuran (jam alat "
        "bisa salah). Jam tidak tepercaya: waktu dari saat diterima gateway atau tidak "
        "diketahui. Tanpa warga: hasil tanpa sesi warga. Pesan ditolak: pesan yang tidak "
        "bisa disimpan pusat, menurut gateway pada topiknya.",
        "en": "The period is by when central received the data, not when it was measured "
        "(a device's clock may be wrong). Untrusted clock: time taken when the gateway received "
        "it, or unknown. Unbound: a result with no resident's session. Dead letters: messages "
        "central could not store, by the gateway named in their topic.",
    },
    # --- end of the data-quality page ---
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
