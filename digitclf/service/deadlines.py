"""Deadlines for slow or stalled clients, so that none holds a connection for ever.

uvicorn (0.54) times out only idle keep-alive connections, and any byte received resets
that timer: a client that never finishes its headers, or sends its body a byte a second,
is kept as long as it likes. Two deadlines close that gap:

- DeadlineProtocol (uvicorn's httptools protocol, extended): the request line and headers
  must arrive within `header_timeout` seconds of the connection opening, or of the first
  byte after the last request on a kept-alive one; else the answer is 408 and the connection
  is closed. A body still arriving `body_timeout` seconds (plus a grace second) after the
  headers is cut off by closing the connection: the case of a body the app never reads.
- BodyDeadlineMiddleware: an app reading the body gets RequestTimeout (408, then the
  connection is closed) when the whole body has not arrived `body_timeout` seconds after
  the headers did.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
_GRACE = 1.0  # lets the app answer 408 itself before the protocol closes the connection


class RequestTimeout(HTTPException):
    def __init__(self, seconds: float):
        super().__init__(408, f"the request body did not arrive within {seconds:g} s",
                         headers={"Connection": "close"})


class BodyDeadlineMiddleware:
    """ASGI middleware: reading the body past `seconds` after the request began raises RequestTimeout."""

    def __init__(self, app: ASGIApp, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:  # after the body, receive() only waits for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(self.seconds) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


def _timeout_answer(detail: str) -> bytes:
    body = json.dumps({"error": "timeout", "detail": detail}, separators=(",", ":")).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a cut-off for bodies still arriving."""

    def __init__(self, *args: Any, header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None  # the header deadline, or the body's

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _await_headers(self) -> None:
        if self._deadline is None:
            self._arm(self.header_timeout, self._headers_late)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._await_headers()  # bytes between requests (even blank lines the parser skips) start the clock
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()  # the next request, in the same bytes as the last one's end

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout + _GRACE, self._body_late)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # not amid a pipelined request's answer
            self.transport.write(_timeout_answer(
                f"the request headers did not arrive within {self.header_timeout:g} s"))
        self.transport.close()

    def _body_late(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
