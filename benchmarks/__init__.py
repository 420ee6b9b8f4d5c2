"""NNDL's performance benchmarks against the peers a user would pick instead (see README.md and
RESULTS.md): `python -m benchmarks [--quick]`.

Nothing here sets a thread count or wait policy: each contestant runs in a process of its own
with the environment's thread variables unset (harness.THREAD_VARIABLES), at its own defaults.
"""
