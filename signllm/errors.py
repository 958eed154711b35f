"""Errors a user can act on: each names the file and the line or field at fault."""

from __future__ import annotations

from pathlib import Path


class SignLLMError(Exception):
    """Base class: the CLI prints these as one line and exits with code 2."""


class DataError(SignLLMError, ValueError):
    """Malformed input data; the message says where (file, line, field)."""

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}:{line}")
        if field is not None:
            where.append(f"field {field}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.message = message


class UsageError(SignLLMError):
    """A bad command-line or API argument (unknown format, language, option)."""
