"""Benchmarks of issue 2: each measures the gateway against a baseline taken in the same run."""
