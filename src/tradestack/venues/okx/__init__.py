"""OKX v5: public market data (books, trades, tickers). Pure parsing and book sync; no session yet."""
