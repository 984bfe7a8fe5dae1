"""`python -m drive_agent` is the `drive_agent` console script."""

import sys

from drive_agent.cli import main

sys.exit(main())
