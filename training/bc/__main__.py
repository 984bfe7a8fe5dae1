"""`python -m training.bc`: see training.bc.cli."""

import sys

from training.bc.cli import main

sys.exit(main())
