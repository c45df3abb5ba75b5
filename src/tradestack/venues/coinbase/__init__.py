"""Coinbase Exchange ws-feed: public market data (level2, ticker, matches). Pure parsing and book sync."""
