"""`build_dataset`: run directories -> a saved (and optionally pushed) DatasetDict."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arcnb.config import project_dir
from arcnb.dataset.assemble import _assemble
from arcnb.dataset.backends import _LocalBackend, _RayBackend
from arcnb.dataset.config import DatasetConfig, _model_list
from arcnb.dataset.hub import _push, _require_token
from arcnb.dataset.relabel import _Builder
from arcnb.dataset.rows import SIDECAR_FILE, _RowWriter
from arcnb.dataset.select import _iter_programs, _select_runs
from arcnb.dataset.stats import _log_programs, _new_stats, format_stats
from arcnb.errors import InputError
from arcnb.executor import Executor
from arcnb.rundir import UNSAFE_CHARS, Run, safe_name

if TYPE_CHECKING:
    from datasets import DatasetDict

logger = logging.getLogger("arcnb")

DEFAULT_OUTPUT_DIR = "training_data"

_UNSAFE = UNSAFE_CHARS  # the name arcnb._cli_dataset imports; the regex is arcnb.rundir's


@dataclass
class DatasetResult:
    """What `build_dataset` produced; the dataset is also on disk at `path`."""

    dataset: DatasetDict
    path: Path
    stats: dict[str, Any]
    name: str
    hub_id: str | None = None

    def __repr__(self) -> str:
        splits = ", ".join(f"{k} {len(v)} rows" for k, v in self.dataset.items())
        return f"<DatasetResult {self.name}: {splits} at {self.path}>"

    def table(self) -> str:
        """The statistics as aligned text lines (see `format_stats`)."""
        return format_stats(self.stats)


def _default_name(cfg: DatasetConfig, runs: list[Run], prefix: str = "synth") -> str:
    def label(given: str | None, values: set[str]) -> str:
        text = given or (values.pop() if len(values) == 1 else "mixed")
        return safe_name(Path(text).name if "/" in text else text)

    dataset = label(cfg.dataset, {r.dataset or "" for r in runs})
    subset = label(cfg.subset, {r.subset or "" for r in runs})
    return f"{prefix}_{dataset}_{subset}_{datetime.now(UTC):%Y%m%d_%H%M%S}"


def _output_path(output: str | None, name: str) -> Path:
    # The default folder is the project's training_data/, also from a notebook in notebooks/.
    path = Path(output) if output else project_dir(DEFAULT_OUTPUT_DIR) / name
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise InputError(f"output {path} already exists; choose another --output or remove it")
    return path


def _paths(value: Any) -> list[str] | None:
    """One path or a sequence of them -> a list of strings; None or empty -> None."""
    if value is None:
        return None
    items = [value] if isinstance(value, (str, os.PathLike)) else list(value)
    return [os.fspath(item) for item in items] or None


def _config(given: Any, overrides: dict[str, Any]) -> DatasetConfig:
    """The DatasetConfig of one call: ``given`` (a config, or run directories) + overrides."""
    names = [f.name for f in dataclasses.fields(DatasetConfig)]
    for key in overrides:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see DatasetConfig)"
            raise InputError(f"build_dataset: unknown setting {key!r}{hint}")
    if isinstance(given, DatasetConfig):
        cfg = dataclasses.replace(given, **overrides)
    else:
        if given is not None and "run_dirs" in overrides:
            raise InputError(
                "build_dataset: run directories given both as the first argument and as run_dirs="
            )
        cfg = DatasetConfig(**overrides)
        if given is not None:
            cfg.run_dirs = given
    # Paths may come as Path objects and models as "a,b": stored as plain strings and lists,
    # so the sidecar's JSON holds exactly what a later call would take.
    cfg.run_dirs = _paths(cfg.run_dirs)
    for key in ("logs_dir", "output"):
        value = getattr(cfg, key)
        setattr(cfg, key, os.fspath(value) if value is not None else None)
    cfg.model = _model_list(cfg.model)
    return cfg


def build_dataset(
    config: DatasetConfig | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    executor: Executor | None = None,
    **overrides: Any,
) -> DatasetResult:
    """Build a fine-tuning dataset from the programs of one or many runs.

    Every program is re-executed, relabelled in hindsight, filtered, deduplicated, balanced and
    split as `arcnb.dataset` describes, then saved with `datasets.DatasetDict.save_to_disk`
    (plus ``arcnb_dataset.json``: the settings, the statistics and each task's source).

    Args:
        config: The settings (`DatasetConfig`); or, as before the config object, the run
            directories (one path or a list), the same as ``run_dirs=...``.
        executor: An executor to use (not closed); default a fresh one with a worker per core.
            Not a setting: it is a live object, and not written into the sidecar file.
        **overrides: `DatasetConfig` fields, replacing those of ``config`` (e.g.
            ``logs_dir="logs", model="a,b", validation=True``).

    Returns:
        A DatasetResult: the DatasetDict (memory-mapped from ``path``), ``path``, ``stats``.

    Raises:
        InputError: An unknown or bad setting, no matching run, an existing output, ``push``
            without a token, or ``ray_address`` without Ray installed.
    """
    cfg = _config(config, overrides)
    cfg.validate()
    token = _require_token() if cfg.push else None
    t0 = time.monotonic()
    runs = _select_runs(cfg)
    name = cfg.hf_dataset_name or _default_name(cfg, runs)
    path = _output_path(cfg.output, name)
    stats = _new_stats()
    stats["runs"] = len(runs)
    logger.info("dataset: %d run(s) selected", len(runs))

    own = None
    if cfg.ray_address:
        backend: Any = _RayBackend(cfg.ray_address)
    else:
        own = Executor() if executor is None else None
        backend = _LocalBackend(executor or own)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".arcnb-dataset-", dir=path.parent))
    try:
        writer = _RowWriter(tmp / "rows.arrow")
        builder = _Builder(cfg, backend, writer, stats)
        try:
            builder.run(_iter_programs(runs, cfg, stats))
        finally:
            writer.close()
            backend.close()
            if own is not None:
                own.close()
        _log_programs(stats)
        if writer.count == 0:  # nothing to save: say why instead of writing an empty dataset
            rejected = ", ".join(f"{k} {v}" for k, v in stats["rejected"].items())
            raise InputError(
                f"no program qualified for a dataset: {stats['programs_found']} found in "
                f"{len(runs)} run(s); rejected: {rejected or 'none'}"
            )
        dd = _assemble(tmp / "rows.arrow", builder.tasks, cfg, stats)
        with _quiet_datasets():
            dd.save_to_disk(str(path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    from datasets import load_from_disk

    dd = load_from_disk(str(path))
    stats["seconds"] = time.monotonic() - t0
    settings = dataclasses.asdict(cfg)
    sidecar = {
        "schema": 1,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
        "runs": [str(r.path) for r in runs],
        "stats": stats,
        "task_sources": builder.sources,
    }
    (path / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=2) + "\n")
    logger.info("dataset: saved to %s", path)
    hub_id = _push(dd, name, cfg.hf_org, cfg.hf_private, token, path) if cfg.push else None
    return DatasetResult(dd, path, stats, name, hub_id)


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No `datasets` progress bars (the CLI prints its own lines); the setting is restored."""
    from datasets.utils import logging as ds_logging

    was_enabled = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            ds_logging.enable_progress_bar()
