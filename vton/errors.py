"""Errors vton raises on purpose: each carries a message written for the person who must act on it.

The CLI prints ``str(error)`` and exits non-zero, the app shows it in the page and the API returns it;
none of them prints a traceback for a ``VtonError``.
"""

from __future__ import annotations

__all__ = ["VtonError", "InputError", "WeightsError", "PersonNotFoundError", "short_reason"]


class VtonError(Exception):
    """Base class of every error vton reports to a user.

    Attributes:
        stages: the stages a run computed before it stopped (``vton.methods.base.Stage`` objects, in display
            order; empty unless the pipeline attached them), so a refusal can still show why.
    """

    stages: tuple = ()


class InputError(VtonError, ValueError):
    """An input (image, annotation file, array, option) is unreadable or has the wrong form."""


class PersonNotFoundError(InputError):
    """The pose estimator found nobody in the person photo."""


class WeightsError(VtonError):
    """Weights are missing, unverifiable or incompatible; the message says how to get them."""


def short_reason(e: BaseException) -> str:
    """A short reason for an OS or library error, for a message, without echoing a (possibly huge) file name."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e)
    return text if len(text) <= 200 else text[:200] + "…"
