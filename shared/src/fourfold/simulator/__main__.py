"""`python -m fourfold.simulator`: the same as `fourfold simulate`."""

from fourfold.simulator.command import main

raise SystemExit(main())
