"""Kraken spot: WebSocket v2 book (CRC32) plus v1/v2 trade and ticker parsing. Pure; no session yet."""
