"""One root exception for arcnb; subclasses carry context."""


class ArcnbError(Exception):
    """Root of every error arcnb raises on purpose."""


class InputError(ArcnbError):
    """Bad user input (unknown dataset, subset, task id, malformed file, bad flag).

    The CLI prints its message as one line and exits with code 2.
    """


class ExecutorError(ArcnbError):
    """The executor itself could not run (not a failure of the program it ran)."""


class IsolationError(ExecutorError, InputError):
    """The executor refuses to run model code here: the sandbox it can build is below the
    level required (``require_isolation``; by default, nothing would confine the programs).

    Raised when the executor starts, before any request is sent or anything is written; the
    CLI prints the reason (what is missing, and the opt-in) as one line and exits with 2.
    """


class AuthError(InputError):
    """The endpoint refused the API key (HTTP 401 or 403): the run stopped at once.

    An input error (the key, or the variable naming it, is wrong), so the CLI exits with 2.
    No request it refused was recorded, so ``arcnb run --resume`` finishes the run once the
    key is fixed.

    Attributes:
        run_dir: The run directory (config and the attempts finished before the refusal).
    """

    def __init__(self, message: str, run_dir: str | None = None):
        super().__init__(message)
        self.run_dir = run_dir


class RunFailedError(ArcnbError):
    """A run produced nothing usable: every request failed, or ``--max-failures`` stopped it.

    Everything is still recorded (each failed request in attempts.jsonl, the summary with
    ``stopped_by``); the CLI prints the reason as one line and exits with 1.

    Attributes:
        run_dir: The run directory.
    """

    def __init__(self, message: str, run_dir: str | None = None):
        super().__init__(message)
        self.run_dir = run_dir


class DiskFullError(RunFailedError):
    """The disk (or quota) filled up while a run was writing: the run stopped.

    Every record written before is intact (a line cut short is removed), so once space is
    freed ``arcnb run --resume`` completes the run. A subclass of RunFailedError: the CLI
    prints the message as one line and exits with 1.
    """


class MissingExtraError(InputError):
    """An optional extra (``pip install 'arcnb[NAME]'``) is not installed.

    In Jupyter it shows as its one line, without a traceback (`_render_traceback_`).
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]
