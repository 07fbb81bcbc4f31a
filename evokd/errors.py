"""User-facing errors: the CLI prints them as one clear line (no traceback unless --debug) and exits non-zero."""


class EvokdError(Exception):
    """An error the user can act on: names the file/key/URL and what was expected."""


class InputError(EvokdError):
    """Bad user input: a file, a line, a field, and what was expected."""

    def __init__(self, source: str, message: str, line: int | None = None, field: str | None = None):
        where = source
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")
        self.source, self.line, self.field = source, line, field


class TeacherUnavailable(EvokdError):
    """The teacher server cannot be reached (after retries) or serves another model."""
