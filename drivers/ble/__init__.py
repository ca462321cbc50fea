"""Bluetooth Low Energy device knowledge.

Pure codecs for the GATT characteristics our meters speak (IEEE-11073 numbers, Date Time,
Blood Pressure 0x1810, Glucose 0x1808 with RACP, Current Time 0x1805, Device Information
0x180A), the device-family quirk registry and the conversion to the gateway's reading model.
Nothing in the codec modules imports asyncio or bleak; the sessions that drive a bleak client
live next to them in `session_*.py`.
"""
