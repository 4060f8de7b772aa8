"""User-facing errors: the CLI prints them as one line and exits with status 2."""


class UsageError(ValueError):
    """Bad input from a user (unknown name, malformed value, unreadable file)."""
