"""Kiosk and kader web app: `kiosk.app.create_app(KioskDeps)`; see kiosk/README.md."""
