"""Benchmarks: each module's `main()` prints medians and ratios and writes benchmarks/results/*.json."""
