"""`DatasetConfig`: every setting of one `build_dataset` call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from arcnb.config import DEFAULT_LOGS_DIR
from arcnb.errors import InputError
from arcnb.settings import setting

_DATE_RE = re.compile(r"^\d{8}$")


@dataclass
class DatasetConfig:
    """Every setting of one `build_dataset` call; written into the output's sidecar file.

    Field names are `build_dataset`'s keyword arguments, the CLI flags in snake_case, and the
    notebook's parameter names.
    """

    # Positional on the command line (RUN_DIR ...), so no flag.
    run_dirs: list[str] | None = setting(
        None, help="run directories (default: every run under --logs-dir)", flag=False
    )
    logs_dir: str | None = setting(
        DEFAULT_LOGS_DIR, help="where runs live, when no RUN_DIR is given", metavar="DIR"
    )
    output: str | None = setting(
        None, help="dataset directory (default: training_data/<name>)", metavar="DIR"
    )
    model: list[str] | None = setting(
        None, help="only programs of these models; comma-separated or repeated", metavar="A,B"
    )
    dataset: str | None = setting(None, help="only runs on this dataset (e.g. arc-agi-1)")
    subset: str | None = setting(None, help="only runs on this subset (e.g. middle_training_10)")
    date_from: str | None = setting(
        None, help="only runs started on or after this day (UTC)", metavar="YYYYMMDD"
    )
    date_to: str | None = setting(
        None, help="only runs started on or before this day (UTC)", metavar="YYYYMMDD"
    )
    pattern: str | None = setting(
        None, help="only runs whose directory name contains this (or matches this glob)"
    )
    limit: int | None = setting(None, help="only the newest N matching runs", metavar="N")
    # A bool on by default has the flag --no-NAME, and its help says what that flag does.
    transduction_filter: bool = setting(True, help="keep programs that hard-code answers")
    dedup: bool = setting(True, help="keep duplicate programs")  # on: deduplicate per task
    clean_code: bool = setting(False, help="strip comments and blank lines from the code")
    balance: bool = setting(
        True, help="do not balance tasks with and without a test-correct program 50/50"
    )
    validation: bool = setting(
        False, help="hold out ~10% of the tasks (stratified by difficulty) as a validation split"
    )
    reasoning: bool = setting(True, help="leave the reasoning out")  # on: kept when test-correct
    push: bool = setting(
        False, help="upload to the Hugging Face Hub (needs HF_TOKEN or a stored token)"
    )
    hf_org: str | None = setting(
        None, help="Hub organisation (default: your own namespace)", metavar="ORG"
    )
    hf_private: bool = setting(False, help="make the Hub dataset private")
    hf_dataset_name: str | None = setting(
        None, help="dataset name (default: synth_<dataset>_<subset>_<UTC time>)", metavar="NAME"
    )
    ray_address: str | None = setting(
        None,
        help="run the programs on this Ray cluster ('local' starts one; needs the ray extra)",
        metavar="ADDRESS",
        flag="ray",
    )

    def validate(self) -> None:
        """Raise InputError naming the bad setting."""
        for flag, value in (("--date-from", self.date_from), ("--date-to", self.date_to)):
            if value is None:
                continue
            try:
                ok = bool(_DATE_RE.match(value)) and bool(datetime.strptime(value, "%Y%m%d"))
            except ValueError:
                ok = False
            if not ok:
                raise InputError(f"{flag} must be a date as YYYYMMDD, got {value!r}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(f"--date-from {self.date_from} is after --date-to {self.date_to}")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"--limit must be >= 1, got {self.limit}")
        if self.hf_dataset_name is not None and not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9._-]*", self.hf_dataset_name
        ):
            raise InputError(
                f"--hf-dataset-name must be letters, digits, '.', '_' or '-', "
                f"got {self.hf_dataset_name!r}"
            )


def _model_list(model: str | Sequence[str] | None) -> list[str] | None:
    """``"a,b"`` or ``["a", "b,c"]`` -> ``["a", "b", "c"]``; None or empty -> None."""
    if model is None:
        return None
    items = [model] if isinstance(model, str) else list(model)
    names = [m.strip() for item in items for m in str(item).split(",") if m.strip()]
    return names or None
