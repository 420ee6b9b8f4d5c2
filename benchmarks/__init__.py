"""NNDL's performance benchmarks against the peers a user would pick instead (see README.md and
RESULTS.md): `python -m benchmarks [--quick]`."""
