"""`python -m nndl` is `nndlc`."""

import sys

from nndl.commands.cli import main

sys.exit(main())
