"""`python -m rollout …`: the rollout commands without the rest of the flagstream CLI."""

import sys

from rollout.cli import main

sys.exit(main())
