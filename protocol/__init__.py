"""Pure protocol layer: wire models, canonical JSON, signed objects, validation rules.

No I/O, no clock, no randomness: callers pass ``now`` and nonces in.
"""
