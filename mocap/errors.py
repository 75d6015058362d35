"""Errors a user can act on, each with a documented exit code.

Every stage raises :class:`MocapError` (or a subclass) for bad input; the CLI
prints its message as one line on stderr and exits with ``exit_code``.
"""

# Exit codes (documented in the README).
EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: please report it (rerun with --debug for the traceback)
EXIT_USAGE = 2  # bad command-line option (click's own code)
EXIT_INPUT = 3  # input file missing, unreadable or not what it claims to be
EXIT_NO_PERSON = 4  # the video was read but nobody was found in it
EXIT_OUTPUT = 5  # the output could not be written
EXIT_BATCH_FAILED = 6  # `mocap batch`: some takes failed (the others are done; see the report)
EXIT_INTERRUPTED = 130  # stopped by SIGINT/SIGTERM; no partial output left


class MocapError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(MocapError):
    exit_code = EXIT_INPUT


class NoPersonError(MocapError):
    exit_code = EXIT_NO_PERSON


class OutputError(MocapError):
    exit_code = EXIT_OUTPUT
