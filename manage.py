#!/usr/bin/env python
import os
import sys

from sportello.cli import main

if __name__ == "__main__":
    # manage.py is the developer's tool (deployments use the `sportello` command), so it
    # runs with development settings unless told otherwise.
    os.environ.setdefault("DEBUG", "true")
    sys.exit(main(["manage", *sys.argv[1:]]))
