"""`python -m latentvi.cli`: the same as the `latentvi` command."""

from latentvi.cli import main

raise SystemExit(main())
