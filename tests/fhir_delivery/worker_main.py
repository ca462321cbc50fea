"""Run the delivery worker in its own process (for kill -9 tests):
`python -m tests.fhir_delivery.worker_main DB_URL FHIR_BASE TOKEN_URL CLIENT_ID SECRET`."""

from __future__ import annotations

import asyncio
import logging
import sys

from central.delivery_store import DeliveryStore
from central.fhir.delivery import DeliveryWorker
from central.fhir.settings import DeliverySettings
from central.store import CentralStore
from tests.fhir_delivery.entries import Entries


async def main(db_url: str, base_url: str, token_url: str, client_id: str, secret: str) -> None:
    store = CentralStore(db_url)
    settings = DeliverySettings(base_url, token_url, client_id, secret, timeout_s=60.0)
    worker = DeliveryWorker(settings, DeliveryStore(store.engine), Entries())
    try:
        await worker.start()
    finally:
        await worker.stop()
        store.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(*sys.argv[1:6]))
