"""Benchmarks of the whole system, run by `make bench`, each registered by name in
`sportello.core.bench.BENCHMARKS` and run as `sportello bench NAME`.

`billing_run`: `sportello bench billing-run --services N`, the daily billing run over N
services in a throw-away database.
`invoice_pdf`: `sportello bench invoice-pdf --count K`, milliseconds per two-page
PDF/A-3b invoice.
"""
