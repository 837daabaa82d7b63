"""Fine-tuning data from logged programs: re-executed, relabelled in hindsight, deduplicated.

`build_dataset` reads run directories (see `arcnb.logs`) and turns every program an attempt
produced (every turn's) into at most one row of the competition format (`COLUMNS`):

1. **Re-execution.** Logged outputs are never trusted: each program runs again on its task's
   train and test inputs in the foundation's `Executor` (or on a Ray cluster). A program whose
   output breaks the grid format anywhere is dropped whole (``format``); failed examples
   (error, timeout, memory) are dropped one by one; a program with no train example left is
   dropped (``exec``).
2. **Hindsight relabelling.** A program wrong on the real task is right on the task whose
   outputs are its own: a row holds the real inputs, the program's outputs as both
   ``*_output`` and ``predicted_*_output``, and ``correct_*_input`` flags saying which of them
   match the real outputs.
3. **Filters.** Transductive programs (`arcnb.transduction`) are removed. Per task, test-correct
   programs are deduplicated by cleaned code, the others by their outputs on the train inputs.
4. **Balance and split.** Tasks with and without a test-correct program are balanced 50/50 by
   dropping random tasks of the larger group; ``validation`` holds out ~10% of the tasks,
   stratified by difficulty (share of test-correct rows), so no task is in both splits.

Scale: records are read lazily, one line at a time; programs go to the executor with a bounded
number in flight and results are consumed in order (so the output is deterministic); rows are
streamed to an Arrow file that the `datasets.Dataset` memory-maps; a program identical to one
seen before for the same task is never executed again (only its outcome, one short label, is
remembered). Memory therefore grows with the number of distinct programs by a few dozen bytes
each, not with their outputs.

Modules: `config` (DatasetConfig), `select` (choosing runs, reading their programs), `backends`
(local executor or Ray), `relabel` (execute, relabel, filter, deduplicate), `assemble`
(balance, split), `stats`, `build` (build_dataset), `rows` (the row format, simple_dataset),
`clean` (clean_code), `chat` (to_chat), `hub` (push), `validate` (validate_dataset).
"""

from __future__ import annotations

from arcnb.dataset.assemble import SEED as SEED
from arcnb.dataset.assemble import VALIDATION_FRACTION as VALIDATION_FRACTION
from arcnb.dataset.backends import RAY_CHUNK as RAY_CHUNK
from arcnb.dataset.build import _UNSAFE as _UNSAFE
from arcnb.dataset.build import DEFAULT_OUTPUT_DIR as DEFAULT_OUTPUT_DIR
from arcnb.dataset.build import DatasetResult, build_dataset
from arcnb.dataset.build import _output_path as _output_path
from arcnb.dataset.chat import assistant_text as assistant_text
from arcnb.dataset.chat import to_chat
from arcnb.dataset.clean import clean_code
from arcnb.dataset.config import DatasetConfig
from arcnb.dataset.hub import _push as _push
from arcnb.dataset.hub import _require_token as _require_token
from arcnb.dataset.rows import COLUMNS, dataset_features, simple_dataset
from arcnb.dataset.rows import SIDECAR_FILE as SIDECAR_FILE
from arcnb.dataset.stats import format_stats
from arcnb.dataset.validate import RowFailure, validate_dataset

# The names imported `as` themselves are not in `__all__` but stay importable from here, as
# before the split: constants, the chat turn fine-tuning uses, and the helpers that
# `arcnb._cli_dataset` shares with `build_dataset`.
__all__ = [
    "COLUMNS",
    "DatasetConfig",
    "DatasetResult",
    "RowFailure",
    "build_dataset",
    "clean_code",
    "dataset_features",
    "format_stats",
    "simple_dataset",
    "to_chat",
    "validate_dataset",
]
