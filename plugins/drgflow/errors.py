"""Errors a user can act on: the CLI prints their message (never a stack trace) and exits non-zero."""


class UserError(Exception):
    """Bad input or a refused operation; the message says what and where."""


class LoadError(Exception):
    """A file that cannot be loaded; the message names the file, the line and the problem."""


class DbtError(Exception):
    """dbt failed; the message names the failing nodes."""
