import importlib
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sportello.core.bench import BENCHMARKS


class Command(BaseCommand):
    help = "Run a benchmark in a fresh temporary database and print its result as one JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
        for name, module_path in BENCHMARKS.items():
            module = importlib.import_module(module_path)
            subparser = subparsers.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
            module.add_arguments(subparser)

    def handle(self, *args: Any, benchmark: str, **options: Any) -> None:
        module = importlib.import_module(BENCHMARKS[benchmark])
        result = module.run(**options)
        self.stdout.write(json.dumps(result))
