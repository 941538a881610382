"""Which files the web app may read: only files a person uploaded to it.

Gradio reads a file named in a request by its server path (``{"path": "/etc/passwd", "meta":
{"_type": "gradio.FileData"}}``) and copies it into its cache before any handler of ours
runs; its own "was this uploaded" check is skipped when the app is mounted on our FastAPI
app (``mount_gradio_app``), as ours is. So the check is ours, in two places:

- ``UploadsOnly``, an ASGI layer in front of every route, refuses (400) a request that names
  any file outside the upload folder before Gradio reads or copies anything;
- ``upload_problem`` is asked again by the ingest handler for each file it is handed.

A file counts as uploaded when it is a regular file (not a folder, not a symlink) whose real
path lies inside the upload folder, the one Gradio's upload route writes to (the app sets
``GRADIO_TEMP_DIR`` to it, so both sides read the same setting).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_EVENT_BYTES = 20_000_000  # a chat history is sent with each question; files never are
_UPLOAD_ROUTE = "/gradio_api/upload"
_NOT_UPLOADED = "is not an uploaded file: only files uploaded to the app are read"


def upload_problem(path: str | os.PathLike[str], root: Path) -> str | None:
    """Why ``path`` is not a file uploaded to this app, or None when it is one."""
    raw = os.fspath(path)
    if "://" in raw:
        return "is an address, not an uploaded file"
    if not _named_inside(raw, root):
        return _NOT_UPLOADED
    try:
        mode = os.lstat(raw).st_mode
    except OSError:
        return "is no longer there (uploads are removed once ingested)"
    if stat.S_ISLNK(mode):
        return "is a link, not an uploaded file"
    if stat.S_ISDIR(mode):
        return "is a folder: upload the files in it"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if not _inside(os.path.realpath(raw), os.path.realpath(root)):
        return _NOT_UPLOADED  # a folder on the way is a link out of the upload folder
    return None


def _named_inside(raw: str, root: Path) -> bool:
    """Whether an absolute path names something below ``root`` as written (``..`` resolved,
    links not followed), ``root`` taken as given or with its own links resolved."""
    lexical = os.path.normpath(raw)
    return os.path.isabs(raw) and (_inside(lexical, os.path.abspath(root))
                                   or _inside(lexical, os.path.realpath(root)))


def _inside(path: str, base: str) -> bool:
    return path != base and os.path.commonpath([path, base]) == base


def discard(path: str | os.PathLike[str], root: Path) -> None:
    """Deletes an uploaded file (or a link in the upload folder: the link, never what it
    points at) and its folder once that is empty; never anything outside the upload
    folder."""
    raw = os.path.normpath(os.fspath(path))
    if not _named_inside(raw, root):
        return
    try:
        mode = os.lstat(raw).st_mode
        if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            os.unlink(raw)
        parent = os.path.dirname(raw)
        if os.path.realpath(parent) != os.path.realpath(root):
            os.rmdir(parent)  # Gradio's one folder per upload; kept if anything is left
    except OSError:
        pass


def named_files(data: object) -> list[str]:
    """The server paths of every Gradio file object in a request body (at any depth)."""
    found: list[str] = []
    stack: list[object] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData":
                found.append(str(item.get("path")))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class UploadsOnly:
    """ASGI middleware: a request to the app's routes that names a file outside the upload
    folder is answered 400 and never reaches Gradio. The upload route itself (multipart
    file bodies) and our own ``/v1`` API pass untouched."""

    def __init__(self, app: ASGIApp, root: Path) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get("path", "")
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or route.startswith(("/v1/", _UPLOAD_ROUTE))):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_EVENT_BYTES:
                await _refuse(send, 413, f"a request to the app holds at most "
                              f"{MAX_EVENT_BYTES:,} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = self._problem(body)
        if problem is not None:
            await _refuse(send, 400, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _problem(self, body: bytes) -> str | None:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: no file named; Gradio refuses it itself
        for path in named_files(data):
            reason = upload_problem(path, self.root)
            if reason is not None:
                name = os.path.basename(path) or path
                return f"{name}: {reason}"
        return None


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
