"""Compatibility shim: publishing moved to :mod:`vton.tools.publish` (its sub-command to :mod:`vton.tools.cli`).

This module only re-exports the old names so that existing imports keep working; it is to be removed once every
caller imports from ``vton.tools``.
"""

from __future__ import annotations

from vton.tools.cli import add_publish_parser, run_publish
from vton.tools.publish import PublishedFile, PublishResult, pin, publish

__all__ = ["PublishedFile", "PublishResult", "publish", "pin", "add_publish_parser", "run_publish"]
