"""The notebooks that ship with arcnb, and copying them out: ``arcnb notebooks DIR``.

An installed wheel carries them inside the package (pyproject force-include); a source checkout
has them in ``notebooks/`` at the repository root. Every one runs top to bottom with no run
and no model (see README, "Notebooks").
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from arcnb.errors import InputError

__all__ = ["copy_notebooks", "notebook_dir"]

_NOTEBOOK_DIRS = (
    Path(__file__).parent / "bundled_notebooks",
    Path(__file__).parent.parent / "notebooks",
)


def notebook_dir() -> Path:
    """The folder holding the shipped notebooks (in the package, else in the checkout).

    Raises:
        InputError: Neither exists (a broken install).
    """
    for folder in _NOTEBOOK_DIRS:
        if any(folder.glob("*.ipynb")):
            return folder
    raise InputError("no notebooks found in this arcnb install (looked in arcnb/bundled_notebooks)")


def copy_notebooks(dest: str | os.PathLike[str], overwrite: bool = False) -> list[Path]:
    """Copy every shipped notebook into ``dest`` (created if missing).

    Args:
        dest: The folder to copy into.
        overwrite: Replace notebooks of the same names already there; by default nothing is
            copied when any would be replaced.

    Returns:
        The copies, by name.

    Raises:
        InputError: ``dest`` is a file, or holds a notebook of the same name (without
            ``overwrite``).
    """
    out = Path(dest)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; give a folder for the notebooks")
    sources = sorted(notebook_dir().glob("*.ipynb"))
    clash = [s.name for s in sources if (out / s.name).exists()]
    if clash and not overwrite:
        raise InputError(f"{out} already has {', '.join(clash)}; pass --force to replace them")
    out.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(s, out / s.name)) for s in sources]
