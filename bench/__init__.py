"""Benchmarks, run by `sportello bench <name> ...` and `make bench`.

Each benchmark is a module of this package that registers itself with `@benchmark(...)`;
the `bench` command finds every module here, so adding one (e.g. `invoice_pdf.py` for
`sportello bench invoice-pdf`) needs no change anywhere else. A benchmark prints one JSON
line with its figures.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Arguments = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    help: str
    # Adds the benchmark's own options to its sub-command's parser.
    arguments: Arguments
    # Runs it with the parsed options; returns the figures printed as one JSON line.
    run: Runner


_registry: dict[str, Benchmark] = {}


def benchmark(name: str, *, help: str, arguments: Arguments) -> Callable[[Runner], Runner]:
    """Register `run(options) -> figures` as `sportello bench <name>`."""

    def register(run: Runner) -> Runner:
        _registry[name] = Benchmark(name=name, help=help, arguments=arguments, run=run)
        return run

    return register


def benchmarks() -> dict[str, Benchmark]:
    """Every benchmark of this package, by name (importing its modules registers them)."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_registry.items()))
