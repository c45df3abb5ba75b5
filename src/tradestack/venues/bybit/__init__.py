"""Bybit: v5 public market data (and the v2 protocol of older recordings)."""
