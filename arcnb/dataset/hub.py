"""Pushing a built dataset (and its sidecar file) to the Hugging Face Hub."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from arcnb.dataset.rows import SIDECAR_FILE
from arcnb.errors import InputError

if TYPE_CHECKING:
    from datasets import DatasetDict

logger = logging.getLogger("arcnb")


def _hf_token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    if token:
        return token
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:
        return None


def _require_token() -> str:
    token = _hf_token()
    if not token:
        raise InputError(
            "--push needs a Hugging Face token: set HF_TOKEN or log in with "
            "`hf auth login` (huggingface_hub's stored token)"
        )
    return token


def _push(
    dd: DatasetDict, name: str, org: str | None, private: bool, token: str, path: Path
) -> str:
    repo_id = f"{org}/{name}" if org else name
    try:
        from huggingface_hub import HfApi

        dd.push_to_hub(repo_id, private=private, token=token)
        sidecar = path / SIDECAR_FILE
        if sidecar.exists():
            HfApi(token=token).upload_file(
                path_or_fileobj=str(sidecar),
                path_in_repo=SIDECAR_FILE,
                repo_id=repo_id,
                repo_type="dataset",
            )
    except Exception as error:
        raise InputError(
            f"push to {repo_id} failed ({type(error).__name__}: {error}); "
            f"the dataset is saved at {path}"
        ) from None
    logger.info("dataset: pushed to https://huggingface.co/datasets/%s", repo_id)
    return repo_id
