"""Transports: sockets and the real clock, and nothing else (SPEC section 1).

:mod:`.tcp` is the DLMS/COSEM TCP wrapper server (IEC 62056-47) that
``meteremu serve`` runs; :mod:`.client` a blocking client on the same
protocol layer (``meteremu.dlms``).
"""
