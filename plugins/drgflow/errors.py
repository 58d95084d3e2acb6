"""Errors a user can act on: the CLI prints their message (never a stack trace) and exits non-zero."""


class UserError(Exception):
    """Bad input or a refused operation; the message says what and where."""
