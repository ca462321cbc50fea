"""The shared core of Gempita Edge: what every other package agrees on.

Below everything (see ARCHITECTURE.md): the reading model (`core.reading`), the MQTT payload
and topic contract (`core.payload`, `core.topics`), the device runner/sink contract and events
(`core.devices`, `core.sink`, `core.events`), clock helpers (`core.clock`), backoff and task
helpers, and the MQTT adapter (`core.mqtt`). It imports nothing of ours but itself, so drivers,
the kiosk, central and the simulators can share it without depending on the gateway.
"""
