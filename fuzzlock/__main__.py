"""``python -m fuzzlock``: same as the ``fuzzlock`` command."""

from fuzzlock.cli import main

raise SystemExit(main())
