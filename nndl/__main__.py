"""`python -m nndl` is `nndlc`."""

import sys

from nndl.commands.launch import main

sys.exit(main())
