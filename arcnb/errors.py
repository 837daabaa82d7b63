"""One root exception for arcnb; subclasses carry context."""


class ArcnbError(Exception):
    """Root of every error arcnb raises on purpose."""


class InputError(ArcnbError):
    """Bad user input (unknown dataset, subset, task id, malformed file, bad flag).

    The CLI prints its message as one line and exits with code 2.
    """


class ExecutorError(ArcnbError):
    """The executor itself could not run (not a failure of the program it ran)."""
