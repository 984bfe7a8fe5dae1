"""`python -m training.rl`: see training.rl.cli."""

import sys

from training.rl.cli import main

sys.exit(main())
