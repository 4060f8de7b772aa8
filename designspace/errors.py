"""User-facing errors: the CLI prints them as one line and exits with status 2."""


class UsageError(ValueError):
    """Bad input from a user (unknown name, malformed value, unreadable file)."""


def did_you_mean(word: str, choices) -> str:
    """' (did you mean X?)' naming the choices closest to a mistyped word, or '' when none is close."""
    import difflib

    choices = [str(c) for c in choices]
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:
        return ""
    names = [by_lower[c] for c in close]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f" (did you mean {listed}?)"
