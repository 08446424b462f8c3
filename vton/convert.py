"""Compatibility shim: the converter, the Hub upload and the random weights moved to :mod:`vton.tools`
(:mod:`vton.tools.convert`, :mod:`vton.tools.publish`, :mod:`vton.tools.random_weights`, :mod:`vton.tools.cli`).

This module only re-exports the old names so that existing imports keep working; it is to be removed once every
caller imports from ``vton.tools``. Patch the new modules, not this one (a patched name here reaches nothing).
"""

from __future__ import annotations

from vton.tools.cli import (
    add_convert_parser,
    add_random_weights_parser,
    run_convert,
    run_random_weights,
)
from vton.tools.convert import (
    Recognition,
    checked_state_dict,
    convert_checkpoint,
    convert_pth_file,
    declared_random,
    identify_method,
    known_originals,
    read_checkpoint,
    recognise,
)
from vton.tools.folder import read_local_manifest as _read_local_manifest
from vton.tools.folder import target_name as _target_name
from vton.tools.folder import tool_version
from vton.tools.folder import write_local_manifest as _write_local_manifest
from vton.tools.folder import write_model_card as _model_card
from vton.tools.networks import method_network, methods_with_weights
from vton.tools.networks import network_flags as _network_flags
from vton.tools.publish import _REPO_ID, check_upload, hub_upload, upload_folder
from vton.tools.random_weights import _reinit, write_random_estimators, write_random_weights

__all__ = [
    "Recognition",
    "known_originals",
    "recognise",
    "tool_version",
    "read_checkpoint",
    "convert_pth_file",
    "convert_checkpoint",
    "checked_state_dict",
    "identify_method",
    "declared_random",
    "upload_folder",
    "hub_upload",
    "check_upload",
    "write_random_weights",
    "write_random_estimators",
    "add_convert_parser",
    "run_convert",
    "add_random_weights_parser",
    "run_random_weights",
    "method_network",
    "methods_with_weights",
    "_REPO_ID",
    "_network_flags",
    "_read_local_manifest",
    "_write_local_manifest",
    "_model_card",
    "_target_name",
    "_reinit",
]
