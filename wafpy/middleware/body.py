"""Read the request body as far as WAF inspects it, then give the app the stream unchanged.

An ALB buffers the body up to the inspection limit, asks WAF, and only then forwards the whole
request
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-oversize-request-components.html). Here
`read_body` pulls `http.request` messages until the body ends or limit + 1 bytes are held (one byte
more than WAF sees, to know the body is oversize), keeping the messages as they came.
`ReplayReceive` hands exactly those messages to the app, then delegates to the server's `receive`,
so the rest of a large body streams through without being buffered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


class BodyRead:
    """What `read_body` gathered: the messages, the bytes WAF sees, and how the stream stands."""

    __slots__ = ("body", "complete", "disconnected", "messages", "size")

    def __init__(
        self, messages: list[Message], body: bytes, size: int, complete: bool, disconnected: bool
    ) -> None:
        self.messages = messages
        self.body = body  # at most limit + 1 bytes
        self.size = size  # bytes received so far (the full size when `complete`)
        self.complete = complete  # the last body message was read
        self.disconnected = disconnected  # the client went away before the body ended


async def read_body(receive: Receive, limit: int) -> BodyRead:
    """Receive body messages until the body ends, the client leaves, or more than `limit` bytes are held."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            # http.disconnect (or anything a server should not send here): stop reading.
            body = b"".join(chunks)
            return BodyRead(messages, body, size, False, message["type"] == "http.disconnect")
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
        if not message.get("more_body", False):
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            return BodyRead(messages, body, size, True, False)
        if size > limit:
            body = b"".join(chunks)
            return BodyRead(messages, body, size, False, False)


class ReplayReceive:
    """A `receive` that returns the buffered messages first, then the server's own `receive`."""

    __slots__ = ("_index", "_messages", "_receive")

    def __init__(self, messages: list[Message], receive: Receive) -> None:
        self._messages = messages
        self._index = 0
        self._receive = receive

    async def __call__(self) -> Message:
        index = self._index
        if index < len(self._messages):
            self._index = index + 1
            return self._messages[index]
        return await self._receive()
