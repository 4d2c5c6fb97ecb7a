"""`watch=True` reloads the web ACL under any async library: asyncio and trio, lifespan or not."""

from __future__ import annotations

import json
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.test_asgi_support import EchoApp, blocking_acl
from wafpy import WAFMiddleware

WATCH_THREAD = "wafpy-acl-watch"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def get(app: Any, path: str) -> int:
    """The status `app` answers to `GET path`, called as a server calls it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"shop.example.com")],
        "client": ("203.0.113.7", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


def watching(mw: WAFMiddleware) -> bool:
    """`mw.watching` read afresh: mypy would keep an asserted property narrowed across `close()`."""
    return mw.watching


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WATCH_THREAD]


async def wait_for_status(app: Any, path: str, status: int) -> None:
    with anyio.fail_after(30):
        while await get(app, path) != status:
            await anyio.sleep(0.02)


@pytest.mark.anyio
async def test_watch_reloads_on_file_change(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(blocking_acl("/a", "first")))
    mw = WAFMiddleware(EchoApp(), str(path), watch=True, watch_interval=0.02)
    try:
        assert await get(mw, "/a") == 403
        assert await get(mw, "/b") == 200
        path.write_text(json.dumps(blocking_acl("/b", "second")) + "\n")
        await wait_for_status(mw, "/b", 403)
        assert await get(mw, "/a") == 200
        assert mw.acl.name == "second"
        # One watcher, started by the first request and not again by the next ones.
        for _ in range(20):
            await get(mw, "/c")
        assert len(watch_threads()) == 1 and watching(mw)
    finally:
        mw.close()
    assert not watching(mw) and not watch_threads()
    assert await get(mw, "/b") == 403 and not watching(mw)  # closed: no watcher again


@pytest.mark.anyio
async def test_watch_keeps_the_last_good_acl(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(blocking_acl("/a", "first")))
    mw = WAFMiddleware(EchoApp(), str(path), watch=True, watch_interval=0.02)
    try:
        assert await get(mw, "/a") == 403
        path.write_text("{ not json")
        with anyio.fail_after(30):
            while mw.last_error is None:
                await anyio.sleep(0.02)
        assert await get(mw, "/a") == 403 and mw.acl.name == "first"
        path.write_text(json.dumps(blocking_acl("/b", "third")))
        await wait_for_status(mw, "/b", 403)
        assert mw.last_error is None
    finally:
        mw.close()


@pytest.mark.anyio
async def test_lifespan_starts_and_stops_the_watcher(tmp_path: Path, anyio_backend: str) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(blocking_acl("/a", "first")))
    app = EchoApp()
    mw = WAFMiddleware(app, str(path), watch=True, watch_interval=0.02)
    to_app, from_server = anyio.create_memory_object_stream[dict[str, Any]](4)
    from_app, to_server = anyio.create_memory_object_stream[MutableMapping[str, Any]](4)

    async def lifespan() -> None:
        await mw({"type": "lifespan", "asgi": {"version": "3.0"}}, from_server.receive, from_app.send)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lifespan)
        await to_app.send({"type": "lifespan.startup"})
        assert (await to_server.receive())["type"] == "lifespan.startup.complete"
        assert mw.watching  # before any request
        path.write_text(json.dumps(blocking_acl("/b", "second")) + "\n")
        await wait_for_status(mw, "/b", 403)
        await to_app.send({"type": "lifespan.shutdown"})
        assert (await to_server.receive())["type"] == "lifespan.shutdown.complete"
    assert not mw.watching and not watch_threads()
    assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]
    for stream in (to_app, from_server, from_app, to_server):
        stream.close()


def test_watch_interval_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(blocking_acl("/a", "first")))
    with pytest.raises(ValueError, match="watch_interval"):
        WAFMiddleware(EchoApp(), str(path), watch=True, watch_interval=0)
