"""Simulated BLE peripherals behind a bleak backend, plus capture recording and replay."""
