"""Errors a user can fix: the entry points print them as a single line, never a traceback."""


class UserError(Exception):
    """A bad value, a missing or corrupt file: something the user can put right."""


class Diverged(UserError):
    """The loss stopped being a finite number."""


def find_user_error(err: BaseException) -> UserError | None:
    """The UserError behind an exception, also when a library wrapped it (Hydra's instantiate)."""
    while err is not None and not isinstance(err, UserError):
        err = err.__cause__
    return err
