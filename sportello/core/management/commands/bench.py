"""`sportello bench <benchmark> [options]`: the benchmarks of the top-level `bench` package."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a benchmark in a fresh temporary database and print its figures as one JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        from bench import benchmarks

        subparsers = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
        for benchmark in benchmarks().values():
            benchmark.arguments(subparsers.add_parser(benchmark.name, help=benchmark.help))

    def handle(self, *args: Any, **options: Any) -> None:
        from bench import benchmarks

        benchmark = benchmarks().get(options["benchmark"])
        if benchmark is None:
            raise CommandError(f"no benchmark {options['benchmark']!r}")
        figures = benchmark.run(options)
        self.stdout.write(json.dumps(figures))
