"""`nndlc` and what each of its commands does; only `cli` writes to the terminal."""
