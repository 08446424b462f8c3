"""The researcher's side of a running user study: the token that opens the results view, and the optional backup
of the results file to a Hugging Face dataset repo (for a Space, whose disk is lost on restart).

Part of :mod:`vton.study`.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from .prepare import PreparedStudy

__all__ = ["TOKEN_ENV", "HF_REPO_ENV", "HF_EVERY_ENV", "researcher_token", "check_token", "scheduler_kwargs",
           "results_scheduler"]

TOKEN_ENV = "VTON_STUDY_TOKEN"
HF_REPO_ENV = "VTON_STUDY_HF_REPO"
HF_EVERY_ENV = "VTON_STUDY_HF_EVERY_MIN"


def researcher_token(env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The token that opens the results view: ``$VTON_STUDY_TOKEN``, or a new random one.

    Returns:
        ``(token, generated)``; print a generated token at start, it exists nowhere else.
    """
    env = os.environ if env is None else env
    token = (env.get(TOKEN_ENV) or "").strip()
    if token:
        return token, False
    return secrets.token_urlsafe(18), True


def check_token(given: str | None, expected: str) -> bool:
    """True when ``given`` equals ``expected`` (constant time); an empty token never passes."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def scheduler_kwargs(folder: str | Path, repo_id: str, study_id: str, every_min: float = 5.0) -> dict[str, Any]:
    """Keyword arguments of ``huggingface_hub.CommitScheduler`` that push ``results.jsonl`` to a dataset repo."""
    return {"repo_id": repo_id, "repo_type": "dataset", "folder_path": Path(folder), "every": every_min,
            "path_in_repo": f"studies/{study_id}", "allow_patterns": ["results.jsonl"], "private": True}


def results_scheduler(prepared: PreparedStudy, env: Mapping[str, str] | None = None) -> Any:
    """Back the results up to a Hugging Face dataset repo every few minutes, only if ``$VTON_STUDY_HF_REPO`` is set.

    For a Space, whose disk is lost on restart. ``$VTON_STUDY_HF_EVERY_MIN`` sets the period (default 5 min); the
    write token comes from ``$HF_TOKEN`` as usual. The repo is created private if it does not exist.

    Returns:
        the started ``CommitScheduler``, or None when the variable is not set.
    """
    env = os.environ if env is None else env
    repo_id = (env.get(HF_REPO_ENV) or "").strip()
    if not repo_id:
        return None
    try:
        every = float(env.get(HF_EVERY_ENV) or 5.0)
    except ValueError:
        raise InputError(f"${HF_EVERY_ENV} must be a number of minutes, got {env.get(HF_EVERY_ENV)!r}") from None
    from huggingface_hub import CommitScheduler

    return CommitScheduler(**scheduler_kwargs(prepared.folder, repo_id, prepared.study.id, every))
