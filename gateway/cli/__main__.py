"""`python -m gateway.cli`: the `gempita` command without the installed script."""

import sys

from gateway.cli import main

sys.exit(main())
