"""Smoke test of the benchmarks (quick mode; never asserts timing targets)."""
