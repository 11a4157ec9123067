"""Federation: peering, authenticated node-to-node HTTP, and announcement distribution.

Inbound (``inbound``: requests other nodes make to us) and outbound (``client``, ``sync``:
requests we make) live in separate modules; every outbound request goes through one
swappable :class:`~node.federation.transport.Transport`.
"""
