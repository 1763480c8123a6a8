"""The one error type of the toolchain. Every user-facing failure raises CllmError with a one-line message;
cli.py turns it into `cllm: error: <message>` and exit status 1 (no traceback)."""


class CllmError(Exception):
    """A failure the user can act on: bad input file, bad configuration, failed tool, guest failure."""
