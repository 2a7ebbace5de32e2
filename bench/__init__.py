"""Benchmarks; each module's `main()` prints its result as a ratio to a same-run baseline."""
