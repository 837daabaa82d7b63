"""arcnb.notebooks: `arcnb notebooks DIR`, from the checkout and from a built wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from arcfixtures import ROOT

from arcnb.cli import main

SHIPPED = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_cli_copies_every_notebook(tmp_path, capsys):
    out = tmp_path / "nbs"
    assert main(["notebooks", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == SHIPPED
    for name in SHIPPED:
        assert (out / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes()
    assert capsys.readouterr().out.count(".ipynb") == len(SHIPPED)

    (out / SHIPPED[0]).write_text("mine")
    assert main(["notebooks", str(out)]) == 2  # nothing replaced without --force
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and SHIPPED[0] in err
    assert (out / SHIPPED[0]).read_text() == "mine"
    assert main(["notebooks", str(out), "--force"]) == 0
    assert (out / SHIPPED[0]).read_bytes() == (ROOT / "notebooks" / SHIPPED[0]).read_bytes()
    (tmp_path / "file").write_text("x")
    assert main(["notebooks", str(tmp_path / "file")]) == 2


UV = shutil.which("uv")


@pytest.mark.slow  # builds a wheel and a virtual environment
@pytest.mark.skipif(UV is None, reason="needs uv on PATH (pip install uv)")
def test_wheel_ships_the_notebooks(tmp_path):
    """Built and installed (without its dependencies: only the copying is checked), the
    package copies out the same notebooks, from inside itself."""
    subprocess.run([UV, "build", "--wheel", "--offline", "-o", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("arcnb-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "--offline", "-p", sys.executable, str(venv)],
                   check=True, capture_output=True)  # fmt: skip
    python = venv / "bin" / "python"
    subprocess.run([UV, "pip", "install", "--offline", "--no-deps", "-p", str(python), str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    code = (
        "import sys; from arcnb.notebooks import copy_notebooks, notebook_dir\n"
        "print(notebook_dir()); copy_notebooks(sys.argv[1])"
    )
    done = subprocess.run([str(python), "-c", code, str(tmp_path / "out")], cwd=tmp_path,
                          check=True, capture_output=True, text=True)  # fmt: skip
    assert Path(done.stdout.strip()).parts[-2:] == ("arcnb", "bundled_notebooks")
    assert str(venv) in done.stdout  # from the installed package, not the checkout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == SHIPPED
