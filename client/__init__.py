"""The reference member client: a library over the node's client API (``mentornet client ...`` wraps it).

It holds the member's keys in an encrypted keystore and talks only to the member's home node; it
never imports node code (``tests/test_layering.py``).
"""
