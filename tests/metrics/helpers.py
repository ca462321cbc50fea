"""Scraping a /metrics endpoint the way Prometheus would: HTTP, then the text format parser."""

from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

# (sample name, sorted label items) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape_sync(port: int, host: str = "127.0.0.1") -> Samples:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=15) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return parse(response.read().decode())


async def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """Off the event loop: the endpoint under test may need this loop to answer."""
    return await asyncio.to_thread(scrape_sync, port, host)


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    if key not in samples:
        known = sorted({n for n, _ in samples if n.startswith(name.rsplit("_", 1)[0])})
        raise AssertionError(f"no sample {name}{labels}; samples near it: {known}")
    return samples[key]
