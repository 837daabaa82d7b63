"""fine-tuning/finetune.ipynb where the `finetune` extra is not installed: it stops at its first
code cell with one line naming the extra (test_finetune.py covers the notebook with the extra)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from arcnb.errors import InputError, MissingExtraError
from arcnb.finetune import EXTRA_MODULES, require_extra

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "fine-tuning" / "finetune.ipynb"
HAS_EXTRA = all(importlib.util.find_spec(name) for name in EXTRA_MODULES)
pytestmark = pytest.mark.skipif(
    HAS_EXTRA, reason="the finetune extra is installed: test_finetune.py runs the notebook"
)


def test_require_extra_names_the_extra():
    with pytest.raises(MissingExtraError, match=r"arcnb\[finetune\]") as raised:
        require_extra()
    assert isinstance(raised.value, InputError)
    assert "\n" not in str(raised.value)
    assert raised.value._render_traceback_() == [f"MissingExtraError: {raised.value}"]


@pytest.mark.slow  # a kernel start
def test_notebook_stops_at_its_first_cell_with_one_line(tmp_path):
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out = tmp_path / "out.ipynb"
    with pytest.raises(PapermillExecutionError) as raised:
        pm.execute_notebook(str(NOTEBOOK), str(out), kernel_name="python3", cwd=str(tmp_path),
                            progress_bar=False)  # fmt: skip
    assert raised.value.ename == "MissingExtraError"
    code = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    (error,) = [o for o in code[0]["outputs"] if o["output_type"] == "error"]
    assert len(error["traceback"]) == 1 and "arcnb[finetune]" in error["traceback"][0]
    assert all(c["execution_count"] is None for c in code[1:])  # nothing after it ran
