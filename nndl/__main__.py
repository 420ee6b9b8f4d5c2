"""`python -m nndl` is `nndlc`."""

import sys

from nndl.cli import main

sys.exit(main())
