#!/usr/bin/env python
import sys

from sportello.cli import main

if __name__ == "__main__":
    sys.exit(main(["manage", *sys.argv[1:]]))
