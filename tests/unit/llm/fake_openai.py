"""A local fake OpenAI-compatible server (real HTTP on port 0) for the backend and QA brain tests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aiohttp import web

# Answers a request's chat messages (``[{"role": ..., "content": ...}]``) with the reply text.
Reply = Callable[[list[dict[str, str]]], str]


class FakeOpenAI:
    """/v1/chat/completions with canned answers, SSE streaming and error modes.

    Attributes a test sets between requests:
        status: answer with this HTTP status and an OpenAI-style JSON error (when not 200).
        raw: ``(status, content type, body)`` sent as is, e.g. an HTML proxy page or a JSON list.
        reply: computes the answer text from the messages (default: a fixed sentence).
        gate: requests wait for this event before answering.
        sse: raw SSE lines a stream request gets instead of the canned stream.
        drop: after ``sse``, drop the connection without ending the chunked body.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.raw: tuple[int, str, str] | None = None
        self.reply: Reply | None = None
        self.gate: asyncio.Event | None = None
        self.sse: list[bytes] | None = None
        self.drop = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.gate is not None:
            await self.gate.wait()
        if self.raw is not None:
            status, content_type, text = self.raw
            return web.Response(status=status, text=text, content_type=content_type)
        if self.status != 200:
            return web.json_response({"error": {"message": "nope"}}, status=self.status)
        text = self.reply(body["messages"]) if self.reply is not None else "An event loop library."
        if not body.get("stream"):
            return web.json_response(
                {
                    "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 5},
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if self.sse is not None:
            for line in self.sse:
                await response.write(line)
            if self.drop and request.transport is not None:
                # The process behind a proxy died mid-answer: no last chunk, the socket just closes.
                request.transport.abort()
            return response
        for piece in ["An ", "event ", "loop."]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response


@asynccontextmanager
async def serve_fake_openai() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """Run a :class:`FakeOpenAI` on a free local port; yields it and its ``base_url`` (``.../v1``)."""
    server = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield server, f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


@contextmanager
def refused_url() -> Iterator[str]:
    """A ``base_url`` whose port refuses connections: bound (so nobody else takes it) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()
