"""OKX v5: market data (parsing, book sync, live feed), order entry, the private `orders` stream."""
