"""`python -m fourfold.simulator`: the same as `fourfold simulate`."""

import sys

from fourfold.cli import main

raise SystemExit(main(["simulate", *sys.argv[1:]]))
