"""`python -m nndl` is `nndlc`."""

import sys

from nndl.launch import main

sys.exit(main())
