"""The package's own error type: everything a user can cause raises it."""

from __future__ import annotations


class GeoelfError(Exception):
    """A problem the user can fix (bad file, bad option, unsupported input).

    The CLI prints it as one line, ``geoelf: error: PATH: message``, and exits with status 2.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message
