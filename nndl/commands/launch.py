"""The `nndlc` command's entry point: Ctrl-C at any moment ends it with exit 130 and one line,
also while the compiler and numpy are still being imported (the first second of a run)."""

import sys

EXIT_INTERRUPTED = 130  # as shells report a program stopped by Ctrl-C


def main() -> int:
    try:
        from nndl.commands.cli import main as run  # the heavy imports: numpy, lark, the compiler

        return run()
    except KeyboardInterrupt:
        return _interrupted()
    except ImportError as e:
        if _caused_by_interrupt(e):  # numpy reports Ctrl-C during its import this way
            return _interrupted()
        raise


def _interrupted() -> int:
    sys.stderr.write("\ninterrupted\n")
    return EXIT_INTERRUPTED


def _caused_by_interrupt(e: BaseException) -> bool:
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
