"""The node: I/O and wiring (database, HTTP server, key store) on top of :mod:`protocol` and :mod:`crypto`."""
