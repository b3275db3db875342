"""Errors a user can fix: the entry points print them as a single line, never a traceback."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """A bad value, a missing or corrupt file: something the user can put right."""


class Diverged(UserError):
    """The loss stopped being a finite number."""


def find_user_error(err: BaseException) -> UserError | None:
    """The UserError behind an exception, also when a library wrapped it (Hydra's instantiate)."""
    while err is not None and not isinstance(err, UserError):
        err = err.__cause__
    return err


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Around a command: a UserError, however wrapped, becomes one line on stderr and exit
    status 2; any other error keeps its traceback."""
    try:
        yield
    except Exception as err:
        cause = find_user_error(err)
        if cause is None:
            raise
        print(f"seqnets: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
