"""`python -m workers.bc`: see workers.bc.cli."""

import sys

from workers.bc.cli import main

sys.exit(main())
