"""Screen texts in Bahasa Indonesia (first) and English.

Advice that goes with a result lives in thresholds.toml, the consent wording in consent.py;
this table holds the rest of the interface. Every key must exist in every language (tested).
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGE_NAMES: Mapping[str, str] = {"id": "Bahasa Indonesia", "en": "English"}

TEXTS: Mapping[str, Mapping[str, str]] = {
    # welcome and end of a visit
    "welcome_title": {"id": "Cek kesehatan mandiri", "en": "Self health check"},
    "welcome_intro": {
        "id": "Ukur tekanan darah dan gula darah Anda, gratis. Pilih bahasa untuk mulai.",
        "en": "Check your blood pressure and blood sugar, free of charge. Choose a language.",
    },
    "welcome_privacy": {
        "id": "Layar akan dihapus otomatis bila tidak disentuh, atau saat Anda menekan Selesai.",
        "en": "The screen clears itself when left alone, or when you press Finish.",
    },
    "ended_ended": {"id": "Sesi selesai. Terima kasih.", "en": "Session finished. Thank you."},
    "ended_idle": {
        "id": "Sesi berakhir karena tidak ada aktivitas.",
        "en": "The session ended because the screen was left alone.",
    },
    "language": {"id": "Bahasa", "en": "Language"},
    "finish": {"id": "Selesai", "en": "Finish"},
    "next": {"id": "Lanjut", "en": "Next"},
    "back": {"id": "Kembali", "en": "Back"},
    "cancel": {"id": "Batal", "en": "Cancel"},
    "retry": {"id": "Coba lagi", "en": "Try again"},
    "save": {"id": "Simpan", "en": "Save"},
    "login": {"id": "Masuk", "en": "Sign in"},
    "logout": {"id": "Keluar", "en": "Sign out"},
    # consent
    "consent_version": {"id": "Versi persetujuan: {version}", "en": "Consent version: {version}"},
    "consent_minor": {
        "id": "Saya berusia 15–17 tahun (dengan orang tua/wali)",
        "en": "I am 15–17 years old (with a parent/guardian)",
    },
    "consent_refuse": {"id": "Saya tidak setuju", "en": "I do not agree"},
    "guardian_title": {"id": "Persetujuan orang tua/wali", "en": "Parent/guardian consent"},
    "guardian_intro": {
        "id": "Peserta berusia 15–17 tahun memerlukan persetujuan orang tua/wali yang hadir.",
        "en": "Participants aged 15–17 need the consent of a parent or guardian who is present.",
    },
    "guardian_agree": {"id": "Setuju sebagai orang tua/wali", "en": "Agree as parent/guardian"},
    "guardian_required": {
        "id": "Orang tua/wali perlu mencentang pernyataan persetujuan.",
        "en": "The parent/guardian needs to tick the consent statement.",
    },
    "guardian_needed": {
        "id": "Menurut NIK, Anda berusia di bawah 18 tahun: orang tua/wali perlu menyetujui.",
        "en": "Your NIK shows you are under 18: a parent/guardian needs to consent.",
    },
    # identification
    "identify_title": {"id": "Nomor Induk Kependudukan (NIK)", "en": "Identity number (NIK)"},
    "identify_nik": {"id": "NIK (16 angka, lihat KTP)", "en": "NIK (16 digits, on your KTP)"},
    "identify_nik_help": {
        "id": "NIK disandikan dan tidak ditampilkan atau disimpan terbuka.",
        "en": "Your NIK is encrypted and is never shown or stored readable.",
    },
    "identify_year": {"id": "Tahun lahir (4 angka)", "en": "Year of birth (4 digits)"},
    "identified_as": {"id": "NIK: {nik}", "en": "NIK: {nik}"},
    "nik_format": {
        "id": "NIK harus 16 angka. Periksa lagi KTP Anda.",
        "en": "The NIK must be 16 digits. Please check your KTP.",
    },
    "nik_province": {
        "id": "Dua angka pertama NIK bukan kode provinsi. Periksa lagi.",
        "en": "The first two digits are not a province code. Please check.",
    },
    "nik_date": {
        "id": "Tanggal lahir di dalam NIK tidak sesuai. Periksa lagi.",
        "en": "The birth date inside the NIK is not valid. Please check.",
    },
    "nik_serial": {
        "id": "Empat angka terakhir NIK tidak boleh 0000. Periksa lagi.",
        "en": "The last four digits cannot be 0000. Please check.",
    },
    "nik_year": {
        "id": "Tahun lahir tidak cocok dengan NIK. Periksa lagi.",
        "en": "The year of birth does not match the NIK. Please check.",
    },
    "too_young": {
        "id": "Pemeriksaan ini untuk usia 15 tahun ke atas.",
        "en": "This check is for people aged 15 and over.",
    },
    # choosing tests
    "choose_title": {"id": "Pilih pemeriksaan", "en": "Choose your checks"},
    "choose_bp": {"id": "Tekanan darah", "en": "Blood pressure"},
    "choose_glucose": {"id": "Gula darah", "en": "Blood sugar"},
    "choose_fasting_q": {
        "id": (
            "Untuk gula darah: apakah Anda puasa (tidak makan/minum selain air putih) "
            "8 jam terakhir?"
        ),
        "en": "For blood sugar: have you fasted (nothing but water) for the last 8 hours?",
    },
    "choose_fasting_yes": {"id": "Ya, saya puasa", "en": "Yes, I have fasted"},
    "choose_fasting_no": {"id": "Tidak puasa", "en": "No, not fasting"},
    "choose_one": {
        "id": "Pilih paling sedikit satu pemeriksaan.",
        "en": "Choose at least one check.",
    },
    "fasting_required": {
        "id": "Jawab dulu apakah Anda puasa.",
        "en": "Please answer whether you have fasted.",
    },
    # instructions
    "instr_title": {"id": "Petunjuk", "en": "Instructions"},
    "instr_bp_title": {
        "id": "Sebelum mengukur tekanan darah",
        "en": "Before measuring blood pressure",
    },
    "instr_bp_rest": {
        "id": "Duduk tenang 5 menit, punggung bersandar, kaki menapak lantai, tidak bicara.",
        "en": "Sit quietly for 5 minutes, back supported, feet flat on the floor, no talking.",
    },
    "instr_bp_cuff": {
        "id": (
            "Pasang manset di lengan atas tanpa baju tebal, 2 jari di atas siku, setinggi jantung."
        ),
        "en": "Put the cuff on your bare upper arm, 2 fingers above the elbow, at heart level.",
    },
    "instr_bp_still": {
        "id": "Letakkan lengan di meja dan jangan bergerak saat manset mengembang.",
        "en": "Rest your arm on the table and keep still while the cuff inflates.",
    },
    "instr_bp_start": {
        "id": "Tekan Siap, lalu tekan tombol START pada alat.",
        "en": "Press Ready, then press START on the monitor.",
    },
    "instr_glucose_title": {"id": "Sebelum cek gula darah", "en": "Before the blood sugar test"},
    "instr_glucose_wash": {
        "id": "Cuci tangan dengan sabun dan keringkan.",
        "en": "Wash your hands with soap and dry them.",
    },
    "instr_glucose_strip": {
        "id": "Masukkan strip baru ke alat (petugas membantu bila perlu).",
        "en": "Insert a new strip into the meter (staff can help).",
    },
    "instr_glucose_drop": {
        "id": "Tusuk ujung jari dengan lanset baru dan teteskan darah ke strip.",
        "en": "Prick a fingertip with a new lancet and touch the blood drop to the strip.",
    },
    "instr_glucose_wait": {
        "id": "Tunggu hasil muncul; alat mengirimnya ke layar ini.",
        "en": "Wait for the result; the meter sends it to this screen.",
    },
    "instr_ready": {"id": "Siap, mulai ukur", "en": "Ready, start"},
    # measuring
    "measuring_title": {"id": "Sedang mengukur…", "en": "Measuring…"},
    "measuring_bp": {
        "id": "Tetap duduk tenang. Tekanan manset:",
        "en": "Keep sitting still. Cuff pressure:",
    },
    "measuring_glucose": {
        "id": "Menunggu hasil dari alat gula darah…",
        "en": "Waiting for the blood sugar meter…",
    },
    "measure_timeout": {"id": "Belum ada hasil — coba lagi", "en": "No result yet — try again"},
    "measure_timeout_help": {
        "id": "Alat tidak mengirim hasil. Pastikan alat menyala dan dekat, lalu coba lagi.",
        "en": "The device sent no result. Check it is on and close by, then try again.",
    },
    # resident measuring screen: ask again, cancel one measurement (issue 10 items 3 and 10)
    "measure_again": {
        "id": "Hasil yang masuk belum pasti milik Anda. Silakan ukur sekali lagi.",
        "en": "The result that came in may not be yours. Please measure once more.",
    },
    "measure_cancel": {"id": "Batal", "en": "Cancel"},
    # referral details on results and in the take-home QR (issue 10 item 9)
    "referral_phone": {"id": "Telepon", "en": "Phone"},
    "referral_hours": {"id": "Jam buka", "en": "Opening hours"},
    "measure_busy": {
        "id": "Alat sedang dipakai orang lain. Tunggu sebentar, lalu coba lagi.",
        "en": "The device is in use by someone else. Wait a moment and try again.",
    },
    "measure_no_device": {
        "id": "Alat untuk pemeriksaan ini belum terpasang di kios ini.",
        "en": "This kiosk has no device for this check.",
    },
    # results
    "result_title": {"id": "Hasil Anda", "en": "Your result"},
    "result_bp_title": {"id": "Tekanan darah", "en": "Blood pressure"},
    "result_bp_value": {"id": "Sistolik/diastolik", "en": "Systolic/diastolic"},
    "result_pulse": {"id": "Denyut nadi", "en": "Pulse"},
    "mutu_title": {"id": "Mutu alat: {name}", "en": "Device quality: {name}"},
    "mutu_calibration_due": {"id": "Kalibrasi berlaku sampai", "en": "Calibration due"},
    "mutu_strip_lot": {"id": "Lot strip", "en": "Strip lot"},
    "mutu_strip_expires": {"id": "Strip kedaluwarsa", "en": "Strips expire"},
    "mutu_control_low": {"id": "Rentang kontrol bawah (mg/dL)", "en": "Control range low (mg/dL)"},
    "mutu_control_high": {
        "id": "Rentang kontrol atas (mg/dL)",
        "en": "Control range high (mg/dL)",
    },
    "mutu_control_lot": {"id": "Lot larutan kontrol", "en": "Control vial lot"},
    "mutu_control_expires": {"id": "Larutan kontrol kedaluwarsa", "en": "Control vial expires"},
    "mutu_save": {"id": "Simpan", "en": "Save"},
    "mutu_back": {"id": "Kembali", "en": "Back"},
    "mutu_qc_log": {"id": "Catatan uji kontrol", "en": "Control test log"},
    "mutu_qc_when": {"id": "Waktu", "en": "When"},
    "mutu_qc_result": {"id": "Hasil", "en": "Result"},
    "mutu_qc_pass": {"id": "Lulus", "en": "Passed"},
    "mutu_qc_fail": {"id": "Gagal", "en": "Failed"},
    "mutu_qc_unjudged": {
        "id": "Belum dinilai (rentang belum diisi)",
        "en": "Not judged (no range entered)",
    },
    "mutu_qc_none": {"id": "Belum ada uji kontrol", "en": "No control tests yet"},
    "mutu_bad_date": {
        "id": '{field}: tanggal "{value}" tidak terbaca. Tulis TTTT-BB-HH, misalnya 2027-01-31.',
        "en": '{field}: the date "{value}" cannot be read. Write YYYY-MM-DD, e.g. 2027-01-31.',
    },
    "mutu_range_missing": {
        "id": "Rentang kontrol salah: isi batas bawah dan batas atas dari botol larutan "
        "kontrol (atau kosongkan semua isian larutan kontrol).",
        "en": "Control range wrong: give both the low and the high edge from the control vial "
        "(or leave every control vial field empty).",
    },
    "mutu_range_number": {
        "id": "Rentang kontrol salah: {field} harus angka mg/dL, misalnya 110.",
        "en": "Control range wrong: {field} must be a number in mg/dL, e.g. 110.",
    },
    "mutu_range_positive": {
        "id": "Rentang kontrol salah: batas bawah harus lebih dari 0 mg/dL.",
        "en": "Control range wrong: the low edge must be above 0 mg/dL.",
    },
    "mutu_range_order": {
        "id": "Rentang kontrol salah: batas bawah ({low}) lebih tinggi dari batas atas ({high}). "
        "Periksa lagi angka pada botol.",
        "en": "Control range wrong: the low edge ({low}) is above the high edge ({high}). "
        "Check the numbers on the vial again.",
    },
    "mutu_edit": {"id": "Mutu alat", "en": "Device quality"},
    "device_check_short": {"id": "Alat perlu diperiksa", "en": "Device needs checking"},
    "device_check": {
        "id": "Alat perlu diperiksa: alat ini belum memenuhi syarat mutu (kalibrasi, uji "
        "kontrol, strip atau baterai). Ulangi pemeriksaan dengan alat lain bila bisa.",
        "en": "Device needs checking: this device is outside the kit's quality checks "
        "(calibration, control test, strips or battery). Repeat on another device if you can.",
    },
    "per_min": {"id": "menit", "en": "min"},
    "result_glucose_fasting": {"id": "Gula darah puasa", "en": "Fasting blood sugar"},
    "result_glucose_random": {"id": "Gula darah sewaktu", "en": "Random blood sugar"},
    "result_glucose_value": {"id": "Kadar gula", "en": "Glucose"},
    "isolated_systolic_short": {"id": "sistolik terisolasi", "en": "isolated systolic"},
    "category": {"id": "Kategori", "en": "Category"},
    "measured_at": {"id": "Diukur {when}", "en": "Measured {when}"},
    "referral": {"id": "Puskesmas rujukan", "en": "Your Puskesmas"},
    "qr_title": {"id": "Simpan hasil di HP", "en": "Keep it on your phone"},
    "qr_alt": {
        "id": "Kode QR berisi hasil Anda, tanpa NIK",
        "en": "QR code holding your result, without your NIK",
    },
    "qr_help": {
        "id": "Pindai dengan kamera HP. Berisi hasil, kategori, waktu dan lokasi — tanpa NIK.",
        "en": "Scan with your phone camera. It holds result, category, time and place — no NIK.",
    },
    "qr_glucose_note": {
        "id": "Gula darah kapiler: skrining, bukan diagnosis",
        "en": "Capillary glucose: screening, not a diagnosis",
    },
    "qr_referral": {"id": "Rujukan", "en": "Referral"},
    "next_glucose": {"id": "Lanjut: gula darah", "en": "Next: blood sugar"},
    "next_bp": {"id": "Lanjut: tekanan darah", "en": "Next: blood pressure"},
    # kader mode
    "kader_login_title": {"id": "Masuk kader", "en": "Kader sign-in"},
    "kader_id": {"id": "ID kader", "en": "Kader ID"},
    "kader_pin": {"id": "PIN", "en": "PIN"},
    "login_failed": {"id": "ID atau sandi salah.", "en": "Wrong ID or password."},
    "login_locked": {
        "id": "Terlalu banyak percobaan. Tunggu beberapa menit.",
        "en": "Too many attempts. Wait a few minutes.",
    },
    "login_ended": {"id": "Anda sudah keluar.", "en": "You are signed out."},
    # login lockout (issue 10 item 5: per account, with the wait shown)
    "kader_login_failed": {"id": "ID atau PIN salah.", "en": "Wrong ID or PIN."},
    "login_locked_wait": {
        "id": "Terlalu banyak percobaan. Coba lagi dalam {wait}.",
        "en": "Too many attempts. Try again in {wait}.",
    },
    "wait_minute": {"id": "1 menit", "en": "1 minute"},
    "wait_minutes": {"id": "{n} menit", "en": "{n} minutes"},
    "wait_second": {"id": "1 detik", "en": "1 second"},
    "wait_seconds": {"id": "{n} detik", "en": "{n} seconds"},
    # kader pages: where each reading is on its way to central (issue 10 item 4)
    "sync_mine_title": {"id": "Bacaan Anda hari ini", "en": "Your readings today"},
    "reading_pending": {"id": "Tersimpan di kit", "en": "Stored on the kit"},
    "reading_published": {"id": "Terkirim, menunggu pusat", "en": "Sent, awaiting central"},
    "reading_confirmed": {"id": "Diterima pusat", "en": "Confirmed by central"},
    "reading_unknown": {"id": "Status belum diketahui", "en": "Status not known yet"},
    "reading_unavailable": {
        "id": "Status pengiriman tidak tersedia",
        "en": "Sync status unavailable",
    },
    "sync_waiting_help": {
        "id": "Bacaan yang belum diterima pusat tetap tersimpan aman di kit dan dikirim lagi "
        "otomatis.",
        "en": "Readings central has not confirmed stay safe on the kit and are sent again "
        "automatically.",
    },
    "sync_kit": {
        "id": "Seluruh kit: {n} bacaan belum diterima pusat.",
        "en": "Whole kit: {n} readings not yet confirmed by central.",
    },
    "kader_home_title": {"id": "Posbindu hari ini", "en": "Today's screening"},
    "kader_signed_in": {"id": "Kader: {kader}", "en": "Kader: {kader}"},
    "sync_title": {"id": "Pengiriman data", "en": "Data sync"},
    "sync_pending": {"id": "Belum terkirim: {n}", "en": "Waiting to send: {n}"},
    "sync_confirmed": {"id": "Diterima pusat: {n}", "en": "Confirmed by central: {n}"},
    "sync_online": {"id": "Terhubung ke pusat.", "en": "Connected to central."},
    "sync_offline": {
        "id": "Tidak terhubung; data tersimpan aman dan dikirim nanti.",
        "en": "Offline; data is stored safely and sent later.",
    },
    "sync_unknown": {"id": "Status pengiriman tidak tersedia.", "en": "Sync status unavailable."},
    "kader_register": {"id": "Daftarkan warga", "en": "Register a resident"},
    "kader_label": {"id": "Nama panggilan (boleh kosong)", "en": "Short name (optional)"},
    "kader_label_help": {
        "id": 'Misalnya "Ibu S.": hanya untuk daftar hari ini di HP kader.',
        "en": "E.g. \"Ibu S.\": only for today's list on the kader's phone.",
    },
    "kader_consent_confirm": {
        "id": "Warga sudah membaca/dibacakan keterangan di atas dan setuju.",
        "en": "The resident has read (or been read) the text above and agrees.",
    },
    "kader_guardian_confirm": {
        "id": "Untuk usia 15–17: orang tua/wali hadir dan setuju.",
        "en": "Aged 15–17: a parent/guardian is present and agrees.",
    },
    "kader_consent_required": {
        "id": "Persetujuan warga wajib dicentang.",
        "en": "The resident's consent must be ticked.",
    },
    "kader_day_list": {"id": "Daftar hari ini", "en": "Today's list"},
    "kader_day_empty": {"id": "Belum ada warga hari ini.", "en": "No residents yet today."},
    "kader_no_label": {"id": "Warga", "en": "Resident"},
    "kader_no_results": {"id": "Belum diukur", "en": "Not measured yet"},
    "kader_resident_title": {"id": "Warga", "en": "Resident"},
    "kader_measure": {"id": "Ukur", "en": "Measure"},
    "kader_glucose_fasting": {"id": "Gula darah puasa", "en": "Fasting blood sugar"},
    "kader_glucose_random": {"id": "Gula darah sewaktu", "en": "Random blood sugar"},
    # operator
    "admin_title": {"id": "Halaman operator", "en": "Operator page"},
    "admin_password": {"id": "Sandi operator", "en": "Operator password"},
    "admin_devices": {"id": "Alat", "en": "Devices"},
    "admin_device": {"id": "Nama", "en": "Name"},
    "admin_state": {"id": "Status", "en": "State"},
    "admin_last_seen": {"id": "Terakhir terlihat", "en": "Last seen"},
    "admin_battery": {"id": "Baterai %", "en": "Battery %"},
    "admin_error": {"id": "Galat terakhir", "en": "Last error"},
    "admin_no_devices": {"id": "Tidak ada alat terdaftar.", "en": "No devices configured."},
    "admin_pair": {"id": "Pasangkan alat baru", "en": "Pair a new device"},
    "admin_pair_started": {"id": "Pemasangan: {message}", "en": "Pairing: {message}"},
    "admin_pair_failed": {
        "id": "Pemasangan gagal; lihat log.",
        "en": "Pairing failed; see the log.",
    },
    "admin_sync": {"id": "Outbox dan broker", "en": "Outbox and broker"},
    "admin_unbound": {
        "id": "Bacaan tanpa sesi (disimpan, tidak ditautkan): {n}",
        "en": "Readings outside any session (stored, not linked): {n}",
    },
    "admin_sessions": {
        "id": "Sesi aktif: kios {visits}, kader {kaders}",
        "en": "Active sessions: kiosk {visits}, kader {kaders}",
    },
    "admin_settings": {"id": "Pengaturan lokasi", "en": "Site settings"},
    "admin_site_name": {"id": "Nama lokasi", "en": "Site name"},
    "admin_puskesmas_name": {"id": "Puskesmas rujukan", "en": "Referral Puskesmas"},
    "admin_puskesmas_address": {"id": "Alamat Puskesmas", "en": "Puskesmas address"},
    "admin_puskesmas_phone": {"id": "Telepon Puskesmas", "en": "Puskesmas phone"},
    "admin_idle": {"id": "Batas diam layar (detik)", "en": "Screen idle timeout (seconds)"},
    "admin_measure_timeout": {
        "id": "Batas tunggu hasil alat (detik)",
        "en": "Device result timeout (seconds)",
    },
    "admin_consent_version": {"id": "Versi teks persetujuan", "en": "Consent text version"},
    "admin_settings_saved": {"id": "Pengaturan disimpan.", "en": "Settings saved."},
    "admin_settings_invalid": {
        "id": "Pengaturan tidak disimpan: periksa isian (batas 30–900 detik).",
        "en": "Settings not saved: check the fields (limits 30–900 seconds).",
    },
    # operator page: broker/outbox state, device counts, unbound readings, pairing from the
    # page (issue 10, items 6 and 7)
    "dur_s": {"id": "{n} dtk", "en": "{n} s"},
    "dur_min": {"id": "{n} mnt", "en": "{n} min"},
    "dur_h": {"id": "{h} jam {m} mnt", "en": "{h} h {m} min"},
    "dur_d": {"id": "{d} hari {h} jam", "en": "{d} d {h} h"},
    "ago": {"id": "{d} lalu", "en": "{d} ago"},
    "admin_status": {"id": "Status pengiriman", "en": "Delivery status"},
    "admin_broker": {"id": "Broker MQTT", "en": "MQTT broker"},
    "admin_broker_up": {"id": "Tersambung", "en": "Connected"},
    "admin_broker_down": {"id": "Terputus", "en": "Disconnected"},
    "admin_broker_since": {"id": "sejak {at} ({d})", "en": "since {at} ({d})"},
    "admin_broker_unknown": {
        "id": "Status broker tidak tersedia.",
        "en": "Broker state not available.",
    },
    "admin_last_publish": {"id": "Terakhir mengirim", "en": "Last sent"},
    "admin_alarms": {"id": "Peringatan", "en": "Alarms"},
    "alarm_outbox_full": {
        "id": "Outbox penuh: bacaan baru ditolak (tetap tersimpan di alat).",
        "en": "Outbox full: new readings are refused (they stay in the device).",
    },
    "alarm_storage_error": {
        "id": "Penyimpanan bermasalah: {detail}",
        "en": "Storage problem: {detail}",
    },
    "ob_pending": {"id": "Menunggu dikirim", "en": "Waiting to be sent"},
    "ob_published": {
        "id": "Terkirim, menunggu konfirmasi pusat",
        "en": "Sent, awaiting central's confirmation",
    },
    "ob_confirmed": {
        "id": "Dikonfirmasi pusat (disimpan di kios)",
        "en": "Confirmed by central (kept here)",
    },
    "ob_refused": {"id": "Ditolak broker", "en": "Refused by the broker"},
    "ob_oldest": {"id": "Terlama belum dikirim", "en": "Oldest not yet sent"},
    "ob_capacity": {"id": "Belum dikonfirmasi / kapasitas", "en": "Unconfirmed / capacity"},
    "ob_last_error": {"id": "Galat penyimpanan terakhir", "en": "Last storage error"},
    "admin_kind": {"id": "Jenis", "en": "Kind"},
    "kind_blood_pressure": {"id": "Tekanan darah", "en": "Blood pressure"},
    "kind_glucose": {"id": "Gula darah", "en": "Blood sugar"},
    "kind_unknown": {"id": "Belum diketahui", "en": "Not known yet"},
    "dev_idle": {"id": "Siaga", "en": "Idle"},
    "dev_connecting": {"id": "Menyambung", "en": "Connecting"},
    "dev_transferring": {"id": "Mengambil data", "en": "Reading data"},
    "dev_error": {"id": "Galat", "en": "Error"},
    "dev_unavailable": {"id": "Tidak tersedia", "en": "Unavailable"},
    "admin_readings": {"id": "Bacaan", "en": "Readings"},
    "admin_counts": {"id": "{stored} tersimpan", "en": "{stored} stored"},
    "admin_resent": {
        "id": "{n} kiriman ulang dari memori alat (tidak dihitung)",
        "en": "{n} re-sent from the device's memory (not counted)",
    },
    "admin_used_for": {"id": "Dipakai kios: {what}", "en": "Used by the kiosk: {what}"},
    "admin_never": {"id": "Belum pernah", "en": "Never"},
    "admin_unbound_title": {"id": "Bacaan tanpa sesi", "en": "Readings outside a session"},
    "admin_unbound_span": {
        "id": "Terlama {oldest}, terbaru {newest}",
        "en": "Oldest {oldest}, newest {newest}",
    },
    "admin_unbound_kept": {
        "id": "Daftar menampilkan {kept} terbaru.",
        "en": "The list shows the latest {kept}.",
    },
    "admin_unbound_list": {"id": "Lihat daftar", "en": "Show the list"},
    "admin_page_of": {"id": "Halaman {page} dari {pages}", "en": "Page {page} of {pages}"},
    "admin_newer": {"id": "‹ Lebih baru", "en": "‹ Newer"},
    "admin_older": {"id": "Lebih lama ›", "en": "Older ›"},
    "pair_title": {"id": "Pasangkan alat", "en": "Pair a device"},
    "pair_intro": {
        "id": "Nyalakan alat dalam mode pasang (lihat buku petunjuknya), lalu tekan Cari.",
        "en": "Put the meter in pairing mode (see its manual), then press Search.",
    },
    "pair_scan": {"id": "Cari alat ({s} detik)", "en": "Search ({s} seconds)"},
    "pair_scanning": {"id": "Mencari… harap tunggu", "en": "Searching… please wait"},
    "pair_found_again": {
        "id": "Alat Anda tidak ada di daftar? Aktifkan mode pasang, lalu cari lagi.",
        "en": "Your meter is not listed? Put it in pairing mode and search again.",
    },
    "pair_found_none": {
        "id": "Tidak ada alat tekanan darah atau gula darah yang terlihat. Aktifkan mode pasang "
        "pada alat, lalu cari lagi.",
        "en": "No blood-pressure or glucose device was seen. Put the meter in pairing mode, "
        "then search again.",
    },
    "pair_found": {"id": "Alat yang terlihat ({at})", "en": "Devices seen ({at})"},
    "pair_signal": {"id": "sinyal {rssi} dBm", "en": "signal {rssi} dBm"},
    "pair_passkey": {
        "id": "PIN yang tampil di alat (kosongkan bila tidak ada)",
        "en": "PIN shown on the meter (leave empty if none)",
    },
    "pair_do": {"id": "Pasangkan", "en": "Pair"},
    "pair_pairing": {"id": "Memasangkan… harap tunggu", "en": "Pairing… please wait"},
    "pair_choose": {"id": "Pilih satu alat dari daftar.", "en": "Choose a device from the list."},
    "pair_done": {"id": "Terpasang: {name}", "en": "Paired: {name}"},
    "pair_assign_as": {"id": "Pakai di kios ini untuk", "en": "Use at this kiosk for"},
    "pair_assign": {"id": "Pakai di kios ini", "en": "Use at this kiosk"},
    "pair_assigned": {
        "id": "{name} sekarang dipakai kios untuk {what}.",
        "en": "{name} is now the kiosk's {what} device.",
    },
    "pair_busy": {
        "id": "Langkah pemasangan lain sedang berjalan; tunggu sebentar.",
        "en": "Another pairing step is running; wait a moment.",
    },
    "pair_detail": {"id": "Rincian teknis", "en": "Technical detail"},
    "pair_err_no_dbus": {
        "id": "Bluetooth tidak tersedia: layanan D-Bus sistem tidak berjalan di kios ini. "
        "Hubungi teknisi (systemctl start dbus).",
        "en": "Bluetooth is not available: the system D-Bus is not running on this kiosk. "
        "Call a technician (systemctl start dbus).",
    },
    "pair_err_no_bluetoothd": {
        "id": "Bluetooth tidak tersedia: BlueZ (bluetoothd) tidak berjalan atau tidak ada "
        "adaptor Bluetooth. Hubungi teknisi (systemctl start bluetooth).",
        "en": "Bluetooth is not available: BlueZ (bluetoothd) is not running or there is no "
        "Bluetooth adapter. Call a technician (systemctl start bluetooth).",
    },
    "pair_err_permission": {
        "id": "Gateway tidak diizinkan memakai Bluetooth (grup bluetooth). Hubungi teknisi.",
        "en": "The gateway may not use Bluetooth (group bluetooth). Call a technician.",
    },
    "pair_err_not_found": {
        "id": "Alat tidak terlihat: mode pasang mungkin sudah habis. Aktifkan lagi, lalu "
        "segera coba.",
        "en": "The meter is not seen: its pairing mode may have ended. Start it again and "
        "retry at once.",
    },
    "pair_err_connect": {
        "id": "Alat terlihat tetapi tidak bisa disambungkan. Matikan Bluetooth HP yang pernah "
        "dipasangkan dengan alat ini, dekatkan alat, lalu coba lagi.",
        "en": "The meter was seen but the connection failed. Switch off Bluetooth on any phone "
        "paired with it, bring it closer, and retry.",
    },
    "pair_err_refused": {
        "id": "Alat menolak pemasangan: periksa PIN yang tampil di alat sekarang, atau hapus "
        "pemasangan lama pada alat, lalu coba lagi.",
        "en": "The meter refused to pair: check the PIN it shows now, or clear its old "
        "pairing, then retry.",
    },
    "pair_err_passkey": {
        "id": "PIN harus berupa angka yang tampil di alat (tanpa spasi).",
        "en": "The PIN must be the digits shown on the meter (no spaces).",
    },
    "pair_err_kind": {
        "id": "Pilih tekanan darah atau gula darah.",
        "en": "Choose blood pressure or blood sugar.",
    },
    "pair_err_failed": {"id": "Pemasangan gagal.", "en": "Pairing failed."},
    "pair_no_pairing": {
        "id": "Pemasangan dari halaman ini tidak tersedia di gateway ini.",
        "en": "Pairing from this page is not available on this gateway.",
    },
    # captive portal
    "portal_title": {"id": "Wi-Fi Gempita", "en": "Gempita Wi-Fi"},
    "portal_intro": {
        "id": "Jaringan ini milik kit skrining kesehatan Gempita. Syarat penggunaan:",
        "en": "This network belongs to a Gempita health-screening kit. Terms of use:",
    },
    "portal_term_offline": {
        "id": "Jaringan ini tidak tersambung ke internet.",
        "en": "This network has no internet access.",
    },
    "portal_term_privacy": {
        "id": "Kit tidak mencatat aktivitas HP Anda; hanya alamat jaringan untuk persetujuan ini.",
        "en": "The kit does not record your phone's activity; only its network address for this.",
    },
    "portal_term_use": {
        "id": "Gunakan hanya untuk layanan Gempita.",
        "en": "Use it for Gempita services only.",
    },
    "portal_accept": {"id": "Saya setuju", "en": "I agree"},
    "portal_connected": {
        "id": "Terhubung. Anda bisa membuka halaman kader.",
        "en": "Connected. You can open the kader page.",
    },
    "portal_kader": {"id": "Buka halaman kader", "en": "Open the kader page"},
    # the kader's phone carries the kit's data to central (routes_carry.py)
    "carry_title": {"id": "Bawa data ke pusat", "en": "Carry data to central"},
    "carry_link": {"id": "Bawa data ke pusat (lewat HP)", "en": "Carry data to central (by phone)"},
    "carry_intro": {
        "id": "Kit belum tersambung ke pusat. HP Anda bisa membawa datanya: ambil di sini, "
        "kirim saat HP dapat internet, lalu buka halaman ini lagi di Wi-Fi kit.",
        "en": "The kit cannot reach central. Your phone can carry its data: take it here, "
        "send it when the phone is online, then open this page again on the kit's Wi-Fi.",
    },
    "carry_take": {"id": "Bawa data ke pusat", "en": "Carry data to central"},
    "carry_send": {"id": "Kirim sekarang", "en": "Send now"},
    "carry_list_title": {"id": "Data di HP ini", "en": "Data on this phone"},
    "carry_state_carried": {"id": "Dibawa", "en": "Carried"},
    "carry_state_delivered": {"id": "Terkirim", "en": "Delivered"},
    "carry_state_confirmed": {"id": "Dikonfirmasi", "en": "Confirmed"},
    "carry_state_refused": {"id": "Ditolak pusat", "en": "Refused by central"},
    "carry_readings": {"id": "{n} bacaan", "en": "{n} readings"},
    "carry_none": {"id": "Belum ada data di HP ini.", "en": "No data on this phone yet."},
    "carry_taken": {
        "id": "Data diambil: {n} bacaan. Kirim saat HP dapat internet.",
        "en": "Data taken: {n} readings. Send it when the phone is online.",
    },
    "carry_nothing": {
        "id": "Tidak ada data yang perlu dibawa: semua sudah diterima pusat.",
        "en": "Nothing to carry: central has confirmed every reading.",
    },
    "carry_offline": {
        "id": "HP belum dapat internet. Data tetap aman di HP; coba lagi nanti.",
        "en": "The phone is not online. The data stays safe on the phone; try again later.",
    },
    "carry_central_down": {
        "id": "Pusat tidak bisa dihubungi. Data tetap aman di HP; coba lagi nanti.",
        "en": "Central cannot be reached. The data stays safe on the phone; try again later.",
    },
    "carry_sent": {
        "id": "Terkirim ke pusat. Buka halaman ini lagi di Wi-Fi kit untuk konfirmasi.",
        "en": "Delivered to central. Open this page again on the kit's Wi-Fi to confirm.",
    },
    "carry_handed_back": {
        "id": "Bukti terima diserahkan ke kit: {n} bacaan dikonfirmasi.",
        "en": "Receipt handed to the kit: {n} readings confirmed.",
    },
    "carry_not_this_kit": {
        "id": "Untuk kit lain: bawa ke kit {kit}.",
        "en": "For another kit: take it to kit {kit}.",
    },
    "carry_sync_registered": {
        "id": "HP akan mengirim sendiri begitu ada internet.",
        "en": "The phone will send it by itself once it is online.",
    },
    "carry_no_worker": {
        "id": "Browser ini tidak bisa menyimpan halaman ini tanpa jaringan (perlu HTTPS).",
        "en": "This browser cannot keep this page offline (it needs HTTPS).",
    },
    "carry_err_login": {
        "id": "Masuk sebagai kader di Wi-Fi kit dulu.",
        "en": "Sign in as a kader on the kit's Wi-Fi first.",
    },
    "carry_err_unavailable": {
        "id": "Kit ini belum diatur untuk membawa data lewat HP. Hubungi operator.",
        "en": "This kit is not set up to carry data by phone. Call the operator.",
    },
    "carry_err_keys": {
        "id": "Kunci kit belum lengkap, data tidak bisa disegel. Hubungi operator.",
        "en": "The kit's keys are missing, the data cannot be sealed. Call the operator.",
    },
    "carry_err_export": {
        "id": "Data kit tidak bisa dibaca saat ini. Coba lagi, atau hubungi operator.",
        "en": "The kit's data cannot be read now. Try again, or call the operator.",
    },
    "carry_err_receipt": {
        "id": "Bukti terima ditolak kit: bukan dari pusat atau untuk kit lain.",
        "en": "The kit refused the receipt: not from central, or for another kit.",
    },
    # kit assurance on the kader's phone (issue 14 item 4)
    "mutu_control_low_short": {"id": "batas bawah", "en": "the low edge"},
    "mutu_control_high_short": {"id": "batas atas", "en": "the high edge"},
    "mutu_list_title": {"id": "Mutu alat", "en": "Device quality"},
    "mutu_list_intro": {
        "id": "Hasil dari alat yang perlu diperiksa tetap disimpan, tetapi ditandai.",
        "en": "Readings from a device that needs checking are still kept, but marked.",
    },
    "mutu_not_kept": {
        "id": "Kit ini tidak mencatat mutu alat. Hubungi operator.",
        "en": "This kit does not keep device quality records. Call the operator.",
    },
    "mutu_flagged_n": {"id": "{n} alat perlu diperiksa", "en": "{n} need checking"},
    "mutu_no_devices": {"id": "Belum ada alat di kit ini.", "en": "No devices on this kit yet."},
    "mutu_state_ok": {"id": "Layak pakai", "en": "Fit for use"},
    "mutu_state_unknown": {"id": "Data mutu belum lengkap", "en": "Quality data incomplete"},
    "mutu_state_out_of_policy": {"id": "Alat perlu diperiksa", "en": "Device needs checking"},
    "mutu_state_none": {"id": "Tidak dinilai", "en": "Not judged"},
    "mutu_reasons": {"id": "Sebab", "en": "Why"},
    "mutu_battery": {"id": "Baterai: {pct}%", "en": "Battery: {pct}%"},
    "mutu_reason_calibration_overdue": {
        "id": "Tanggal validasi/kalibrasi sudah lewat",
        "en": "The validation/calibration date has passed",
    },
    "mutu_reason_no_passing_control": {
        "id": "Belum ada uji larutan kontrol yang lulus akhir-akhir ini",
        "en": "No passing control-solution test recently",
    },
    "mutu_reason_control_failed": {
        "id": "Uji kontrol terakhir di luar rentang botol",
        "en": "The latest control test was outside the vial's range",
    },
    "mutu_reason_strips_expired": {
        "id": "Strip sudah kedaluwarsa",
        "en": "The strips have expired",
    },
    "mutu_reason_control_vial_expired": {
        "id": "Larutan kontrol sudah kedaluwarsa",
        "en": "The control solution has expired",
    },
    "mutu_reason_battery_critical": {
        "id": "Baterai hampir habis",
        "en": "The battery is nearly flat",
    },
    "mutu_reason_calibration_not_entered": {
        "id": "Tanggal validasi belum diisi operator",
        "en": "The operator has not entered a validation date",
    },
    "mutu_reason_strips_not_entered": {
        "id": "Lot dan kedaluwarsa strip belum diisi",
        "en": "Strip lot and expiry not entered",
    },
    "mutu_reason_control_range_not_entered": {
        "id": "Rentang larutan kontrol belum diisi",
        "en": "Control solution range not entered",
    },
    "mutu_strips_title": {"id": "Strip", "en": "Strips"},
    "mutu_vial_title": {
        "id": "Larutan kontrol (lihat botol)",
        "en": "Control solution (see the vial)",
    },
    "mutu_date_hint": {"id": "Format TTTT-BB-HH", "en": "Format YYYY-MM-DD"},
    "mutu_validation_title": {"id": "Validasi tensimeter", "en": "BP monitor validation"},
    "mutu_validation_due": {"id": "Validasi berlaku sampai {date}", "en": "Validation due {date}"},
    "mutu_validation_missing": {"id": "Belum diisi", "en": "Not entered"},
    "mutu_validation_by_operator": {
        "id": "Tanggal ini diisi operator di layar kios.",
        "en": "The operator enters this date on the kiosk screen.",
    },
    "mutu_saved": {"id": "Data mutu alat tersimpan.", "en": "Device quality data saved."},
    "mutu_saved_expired": {
        "id": "Tersimpan. Tanggal kedaluwarsa sudah lewat: hasil dari alat ini ditandai "
        '"Alat perlu diperiksa" sampai strip atau larutan kontrol diganti.',
        "en": "Saved. The expiry date has passed: readings from this device are marked "
        '"Device needs checking" until the strips or control solution are replaced.',
    },
    "mutu_qc_shown": {
        "id": "{shown} uji terakhir dari {total}",
        "en": "The latest {shown} of {total} tests",
    },
    "mutu_qc_range": {
        "id": "Rentang botol sekarang: {low}–{high} mg/dL",
        "en": "Vial range now: {low}–{high} mg/dL",
    },
    # the carry page opened over plain http (no service worker): keep the tab open instead
    "carry_insecure": {
        "id": "Halaman ini dibuka tanpa HTTPS, jadi HP tidak bisa membukanya lagi di luar "
        "Wi-Fi kit. Data tetap bisa dibawa: ambil datanya, lalu JANGAN tutup tab ini. Begitu HP "
        'dapat internet, tekan "Kirim sekarang" dan tunggu sampai tertulis "Terkirim"; '
        "setelah itu tab boleh ditutup. Agar halaman bisa dibuka tanpa jaringan, minta operator "
        "memasang sertifikat CA Gempita di HP ini dan buka alamat https kit.",
        "en": "This page was opened without HTTPS, so the phone cannot open it again away from "
        "the kit's Wi-Fi. You can still carry the data: take it, then do NOT close this tab. "
        'Once the phone is online, press "Send now" and wait until it says "Delivered"; then '
        "the tab may be closed. To open the page without a network, ask the operator to install "
        "the Gempita CA certificate on this phone and open the kit's https address.",
    },
    "carry_keep_tab": {
        "id": 'Jangan tutup tab ini sampai tertulis "Terkirim".',
        "en": 'Do not close this tab until it says "Delivered".',
    },
    # errors
    "error_title": {"id": "Maaf, terjadi gangguan", "en": "Sorry, something went wrong"},
    "error_title_404": {"id": "Halaman tidak ditemukan", "en": "Page not found"},
    "error_body": {
        "id": "Data Anda aman. Silakan mulai lagi dari awal atau minta bantuan petugas.",
        "en": "Your data is safe. Please start again or ask staff for help.",
    },
    "error_home": {"id": "Kembali ke awal", "en": "Back to the start"},
}


def text(key: str, lang: str, **kwargs: object) -> str:
    entry = TEXTS[key]
    value = entry.get(lang) or entry["id"]
    return value.format(**kwargs) if kwargs else value
