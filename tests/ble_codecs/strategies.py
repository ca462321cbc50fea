"""Hypothesis strategies shared by the BLE codec tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hypothesis import strategies as st

from drivers.ble.datetime_codec import BleDateTime
from drivers.ble.ieee11073 import Numeric, Special
from drivers.errors import DecodeError

T = TypeVar("T")

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)


finite_sfloats = st.one_of(
    st.builds(Numeric, st.integers(-0x07FD, 0x07FD), st.just(0)),
    st.builds(
        Numeric,
        st.integers(-0x0800, 0x07FF),
        st.integers(-8, 7).filter(lambda e: e != 0),
    ),
)
sfloats = st.one_of(finite_sfloats, st.sampled_from(list(Special)).map(Numeric.of_special))

date_times = st.builds(
    BleDateTime,
    st.none() | st.integers(1, 0xFFFF),
    st.none() | st.integers(1, 0xFF),
    st.none() | st.integers(1, 0xFF),
    u8,
    u8,
    u8,
)


def attempt(decode: Callable[[bytes], T], data: bytes) -> T | DecodeError:
    """The decoded value, or the DecodeError it raised (any other exception propagates)."""
    try:
        return decode(data)
    except DecodeError as exc:
        return exc
