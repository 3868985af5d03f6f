"""Benchmarks of the whole system, run by `make bench`.

`billing_run`: `sportello bench billing-run --services N`, the daily billing run over N
services in a throw-away database (registered in `sportello.core.bench.BENCHMARKS`).
"""
