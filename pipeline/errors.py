"""User-facing errors: one line that names the problem and what to do about it."""

from __future__ import annotations


class StylevidError(Exception):
    """A problem with the user's input, settings or environment.

    The CLI prints ``str(error)`` as a single line and exits with code 2; no traceback.
    Raise it for anything a user can fix; let programming errors propagate as usual.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
