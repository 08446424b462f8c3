"""What the web app accepts over the network: uploaded files and shipped examples, never a server path.

A request to any endpoint (``/gradio_api/call/<name>``, ``run``, ``api``, ``queue/join``) carries, for every file
input (person, garment, pose, parse map, mask, editor layers, galleries), either a file the caller uploaded
(Gradio's ``FileData`` with its ``meta``, whose path Gradio checks lies in its upload folder), the file name of a
shipped example (``examples/examples.json``), or nothing. Anything else — a bare path string, a ``{"path": ...}``
without ``meta``, a URL — is refused by ``InputGuard`` before Gradio or vton touches it, with one message
(``REFUSED``) that is the same whatever the path names: nothing about the server's files can be learnt from it.
``checked_upload`` repeats the rule in the handlers (a path outside Gradio's upload folder and the examples is
refused with the same message), so a route the guard does not know is still closed.

The guard also refuses a call or an upload while the queue is full (``503``) before its body is parsed or stored
(the bytes are dropped as they arrive, so the client gets the answer rather than a reset connection), and bounds
a request body (``MAX_BODY_BYTES``, refused from its ``Content-Length`` before it is read).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from vton.errors import InputError

__all__ = ["REFUSED", "MAX_BODY_BYTES", "InputGuard", "checked_upload", "example_names", "upload_folder",
           "app_kwargs", "short"]

REFUSED = ("vton reads only files uploaded with the request (in the page, or gradio_client.handle_file) or a "
           "shipped example given by its file name; this value is neither, so nothing was read.")
QUEUE_FULL = ("The queue is full: the app is busy with other visitors' try-ons. Nothing was read; please try "
              "again in a minute.")
MAX_BODY_BYTES = 8 * 1024**2  # a call carries file references and small values; files travel through /upload
MAX_ECHO_CHARS = 80  # the most characters of a caller's value any message repeats

_ROUTE = re.compile(r"/(?:queue/join|run/[^/]+|api/[^/]+|call/(?:v2/)?[^/]+)/?$")
_UPLOAD = re.compile(r"/upload/?$")
_FILE_META = {"_type": "gradio.FileData"}
_FILE_KEYS = ("background", "composite", "layers", "image", "video", "file")  # where Gradio models nest files


def short(value: Any, n: int = MAX_ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``n`` characters: what a message may echo of a caller's value."""
    text = repr(value) if not isinstance(value, str) or len(value) <= 4 * n else repr(value[: 4 * n])
    return text if len(text) <= n else text[:n] + f"… ({len(value) if isinstance(value, str) else len(text)} chars)"


def upload_folder() -> Path:
    """Gradio's upload (and cache) folder, resolved."""
    from gradio.utils import get_upload_folder

    return Path(os.path.realpath(get_upload_folder()))


def example_names() -> dict[str, Path]:
    """The shipped example files by their file name (only files ``examples/examples.json`` lists)."""
    from vton.web.examples import example_rows

    return {Path(f).name: Path(f) for row in example_rows() for f in row if f}


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def checked_upload(value: Any) -> Path | None:
    """The server path of an upload or a shipped example, as a handler receives it (Gradio has already moved the
    upload to its folder), or None for nothing.

    Raises:
        InputError: ``REFUSED`` for anything else (a path outside Gradio's upload folder and the examples, a link,
            a folder, a FIFO or a device): one message whatever the path names.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("path")
        if value is None or value == "":
            return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or "\x00" in value or len(value) > 4096:
        raise InputError(REFUSED)
    examples = example_names()
    if value in examples:
        return examples[value]
    try:
        real = Path(os.path.realpath(value))
        st = os.stat(real)
    except (OSError, ValueError):
        raise InputError(REFUSED) from None
    shipped = {Path(os.path.realpath(p)) for p in examples.values()}
    if not stat.S_ISREG(st.st_mode) or not (_inside(real, upload_folder()) or real in shipped):
        raise InputError(REFUSED)
    return real


# ---------------------------------------------------------------------------------------------------------------
# the ASGI guard


_FILE_MODELS: dict[Any, bool] = {}


def _file_component(block: Any) -> bool:
    """Whether a Gradio component's value holds files (its data model is or contains ``FileData``)."""
    model = getattr(block, "data_model", None)
    if model not in _FILE_MODELS:
        _FILE_MODELS[model] = _holds_files(model)
    return _FILE_MODELS[model]


def _holds_files(model: Any) -> bool:
    if model is None:
        return False
    try:
        schema = json.dumps(model.model_json_schema())
    except Exception:  # noqa: BLE001 - a model without a schema holds no files we know of
        return False
    return "FileData" in schema or "ImageData" in schema or '"path"' in schema


def _uploaded(path: Any) -> bool:
    """Whether ``path`` names a regular file inside Gradio's upload folder (after resolving links)."""
    if not isinstance(path, str) or "\x00" in path or "://" in path or len(path) > 4096:
        return False
    try:
        real = Path(os.path.realpath(path))
        return _inside(real, upload_folder()) and stat.S_ISREG(os.stat(real).st_mode)
    except (OSError, ValueError):
        return False


def _check_file_value(value: Any, examples: dict[str, Path], cache: Any, top: bool = True) -> Any:
    """A file slot's value, with shipped example names replaced by ``FileData`` of Gradio's cached copy.

    Raises:
        InputError: ``REFUSED``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if top and value in examples:
            return {"path": cache(str(examples[value])), "orig_name": value, "meta": dict(_FILE_META)}
        if value == "" and top:
            return value
        raise InputError(REFUSED)
    if isinstance(value, list):
        return [_check_file_value(v, examples, cache, top=False) for v in value]
    if isinstance(value, dict):
        if "path" in value or "url" in value:
            path = value.get("path")
            if value.get("meta") != _FILE_META or not _uploaded(path):
                raise InputError(REFUSED)
            return value
        if any(isinstance(value.get(k), str) and value.get(k) for k in _FILE_KEYS):
            raise InputError(REFUSED)  # an editor or gallery entry naming a file by a bare string
        return {k: _check_file_value(v, examples, cache, top=False) if isinstance(v, (dict, list)) else v
                for k, v in value.items()}
    return value


def _label(block: Any, i: int) -> str:
    label = getattr(block, "label", None)
    return str(label)[:60] if label else f"parameter_{i}"


class InputGuard:
    """ASGI middleware in front of the Gradio app: file inputs checked (``REFUSED``), bodies bounded, and a full
    queue refused before a body is read.

    Args:
        app: the ASGI app it wraps.
        blocks: the ``gr.Blocks`` whose events it checks.
    """

    def __init__(self, app: Any, blocks: Any) -> None:
        self.app = app
        self.blocks = blocks

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        is_call, is_upload = bool(_ROUTE.search(path)), bool(_UPLOAD.search(path))
        if not (is_call or is_upload):
            await self.app(scope, receive, send)
            return
        if self._queue_full():
            # the body is read and dropped chunk by chunk, never stored or parsed: answering before the client
            # has sent it would close the connection under it, and the client would see a reset, not this 503
            await _drain(receive)
            await _respond(send, 503, {"error": QUEUE_FULL, "detail": QUEUE_FULL})
            return
        if is_upload:
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            msg = f"the request body is larger than the {MAX_BODY_BYTES // 1024**2} MB a call may carry"
            await _respond(send, 413, {"error": msg, "detail": msg})
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                msg = f"the request body is larger than the {MAX_BODY_BYTES // 1024**2} MB a call may carry"
                await _respond(send, 413, {"error": msg, "detail": msg})
                return
        try:
            body = self._checked(path, body)
        except InputError as e:
            await _respond(send, 422, e.args[1] if len(e.args) > 1 else {"error": str(e), "detail": str(e)})
            return
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)

    def _queue_full(self) -> bool:
        queue = getattr(self.blocks, "_queue", None)
        size = getattr(queue, "max_size", None)
        try:
            return size is not None and len(queue) >= size
        except TypeError:
            return False

    def _fn(self, path: str, payload: dict) -> Any:
        fns = getattr(self.blocks, "fns", {})
        index = payload.get("fn_index")
        if isinstance(index, int) and not isinstance(index, bool):
            return fns.get(index)
        name = path.rstrip("/").rsplit("/", 1)[-1]
        return next((fn for fn in fns.values() if getattr(fn, "api_name", None) == name), None)

    def _checked(self, path: str, body: bytes) -> bytes:
        """The body to pass on (example names replaced), or ``InputError`` carrying the 422 payload."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return body  # Gradio refuses it itself
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return body
        fn = self._fn(path, payload)
        if fn is None:
            return body
        inputs = list(getattr(fn, "inputs", []))
        api_inputs = [b for b in inputs if not getattr(b, "skip_api", False)]  # a gr.State is not the caller's
        if len(payload["data"]) < len(api_inputs):  # Gradio would fail with an empty error
            name = getattr(fn, "api_name", None) or "this event"
            msg = (f"{name} takes {len(api_inputs)} values ("
                   + ", ".join(_label(b, i) for i, b in enumerate(api_inputs))
                   + f"); the call carries {len(payload['data'])}")
            raise InputError(msg, {"error": msg, "detail": msg})
        if len(payload["data"]) < len(inputs):  # the caller's values only: Gradio adds the states
            inputs = api_inputs
        examples = example_names()
        data, changed = payload["data"], False
        for i, block in enumerate(inputs):
            if i >= len(data) or not _file_component(block):
                continue
            try:
                new = _check_file_value(data[i], examples, block.move_resource_to_block_cache)
            except InputError:
                detail = [{"__type__": "validate", "is_valid": False, "parameter_name": _label(block, i),
                           "message": REFUSED}]
                raise InputError(REFUSED, {"error": REFUSED, "detail": detail}) from None
            if new is not data[i]:
                data[i], changed = new, True
        return json.dumps(payload).encode() if changed else body


async def _drain(receive: Any) -> None:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)


async def _respond(send: Any, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def app_kwargs(blocks: Any) -> dict[str, Any]:
    """``launch(app_kwargs=...)`` that puts ``InputGuard`` in front of ``blocks``."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(InputGuard, blocks=blocks)]}
