"""Any OpenAI-compatible chat endpoint (vLLM, TGI, llama.cpp server, Ollama), with streaming.

A semaphore bounds requests in flight (``max_concurrency``) and the number allowed to wait for a
slot (``max_queue``): beyond that the caller gets :class:`bot.ml.LLMBusyError` at once. HTTP 429 and
503 from the server are reported the same way; a slow server raises ``TimeoutError``. Anything else
that keeps the model from answering (the server unreachable, any other HTTP error such as the 404 of
a wrong model name, the 401 of a wrong key, a body that is not a chat completion, a stream event
that is not a completion chunk, a stream cut before its end, a ``base_url`` or key no HTTP client
can use) raises
:class:`~brain.qa.llm.errors.LLMUnavailableError`, whose one-line message names the URL (without
credentials), the status and the first bytes of the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, TypeVar

import httpx

from bot.config import LLMSettings
from bot.logging_setup import mask_secrets
from bot.metrics import LLM_LATENCY, LLM_TOKENS
from bot.ml import ChatMessage, Generation, LLMBusyError
from brain.qa.llm.errors import LLMUnavailableError

log = logging.getLogger(__name__)

# How much of a bad body the error quotes: enough to tell an HTML proxy page from a JSON error.
PREVIEW_CHARS = 200
# Characters past PREVIEW_CHARS masked with the preview: longer than any key or token-shaped secret.
_MASK_MARGIN = 1024
# Lines of a streamed body that is not an event stream kept (a whole completion is a few lines).
_OTHER_LINES = 1000
_BUSY = (429, 503)
# Stop strings the chat completions API accepts (OpenAI refuses a request with more; vLLM takes more).
MAX_STOP = 4
_KEY_HINT = " (check llm.api_key, set from OPENAI_API_KEY or GUILDHALL_LLM__API_KEY)"
_HINTS = {401: _KEY_HINT, 403: _KEY_HINT, 404: " (check llm.base_url and llm.openai_model)"}
_T = TypeVar("_T")


class OpenAICompatibleLLM:
    """:class:`bot.ml.LLM` over ``POST {base_url}/chat/completions``."""

    def __init__(self, settings: LLMSettings, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        headers = {"Content-Type": "application/json"}
        self._secrets: list[str] = []
        if settings.api_key is not None:
            key = settings.api_key.get_secret_value()
            headers["Authorization"] = f"Bearer {key.strip()}"
            self._secrets = _shown_forms(key)
        try:
            self._client = client or httpx.AsyncClient(
                base_url=settings.base_url.strip().rstrip("/"), headers=headers, timeout=settings.timeout_s
            )
        except (httpx.InvalidURL, UnicodeError, ValueError, TypeError) as exc:
            # The settings' validators refuse both; settings built without them (model_construct)
            # must still fail as the one error callers handle, not as a crash at the first question.
            # The key is not quoted: an encoding error would show the characters around the bad one.
            what = "llm.api_key" if isinstance(exc, UnicodeError) else "llm.base_url"
            raise LLMUnavailableError(
                f"the model server cannot be used: {what} is not valid for an HTTP request ({type(exc).__name__})"
            ) from None
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._waiting = 0
        self._stop_warned = False

    def _body(
        self, messages: Sequence[ChatMessage], max_new_tokens: int, stop: Sequence[str], stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.settings.openai_model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_new_tokens,
            "temperature": self.settings.temperature,
            "stream": stream,
        }
        if stop:
            stops = list(stop)
            if len(stops) > MAX_STOP and not self._stop_warned:
                # Once per backend: the caller is code, the same on every request.
                self._stop_warned = True
                log.warning(
                    "llm: the chat completions API takes at most %d stop strings; %d given, sending the first %d "
                    "(the rest are not applied)",
                    MAX_STOP,
                    len(stops),
                    MAX_STOP,
                )
            body["stop"] = stops[:MAX_STOP]
        return body

    async def _acquire(self) -> None:
        if self._slots.locked() and self._waiting >= self.settings.max_queue:
            raise LLMBusyError("the model server is at capacity")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1

    # -- errors ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The completions URL as it may be logged: a ``user:password@`` or query string in
        ``llm.base_url`` would carry credentials, so both are left out."""
        safe = self._client.base_url.copy_with(userinfo=b"", query=None, fragment=None)
        return f"{str(safe).rstrip('/')}/chat/completions"

    def _preview(self, text: str) -> str:
        """The start of a body on one line, with anything token-shaped (or our key) masked."""
        # Masked before it is clipped: a key cut at the limit no longer matched, and half of it
        # (the part that identifies it) reached the log. Only the head is masked (a body may be
        # megabytes); it runs far enough past the limit to hold any secret that starts before it.
        flat = " ".join(text.split())
        head = mask_secrets(flat[: PREVIEW_CHARS + _MASK_MARGIN], self._secrets)
        more = len(head) > PREVIEW_CHARS or len(flat) > PREVIEW_CHARS + _MASK_MARGIN
        clipped = head[:PREVIEW_CHARS] + ("…" if more else "")
        return clipped or "(empty body)"

    def _unavailable(self, what: str) -> LLMUnavailableError:
        return LLMUnavailableError(f"the model server at {self.url} {what}")

    def _unreachable(self, exc: httpx.HTTPError) -> LLMUnavailableError:
        # Connection refused, DNS failure, a connection dropped mid-body, a TLS error: all transport.
        return self._unavailable(f"cannot be reached: {type(exc).__name__}: {self._preview(str(exc))}")

    def _check(self, response: httpx.Response) -> None:
        """Raise for a status that is not a success (the body must have been read)."""
        if response.status_code in _BUSY:
            raise LLMBusyError(f"model server answered {response.status_code}")
        if not response.is_success:
            # vLLM answers an unknown model name with 404, and a wrong or missing key with 401/403:
            # the likeliest fix is in the config, so the message names the setting.
            hint = _HINTS.get(response.status_code, "")
            raise self._unavailable(f"answered HTTP {response.status_code}{hint}: {self._preview(response.text)}")

    def _first_choice(self, text: str) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The decoded body, its first choice and that choice's text; a body that is not a chat
        completion (an HTML proxy page, a JSON list, an error object sent with 200) raises
        LLMUnavailableError."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise self._unavailable(f"answered with a body that is not JSON: {self._preview(text)}") from exc
        if isinstance(data, dict) and data.get("error"):
            raise self._unavailable(f"answered with an error: {self._preview(str(data['error']))}")
        choices = data.get("choices") if isinstance(data, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        content = _text_of(message.get("content")) if isinstance(message, dict) else None
        if not isinstance(first, dict) or content is None:
            raise self._unavailable(f"answered with a body that is not a chat completion: {self._preview(text)}")
        return data, first, content

    def _stream_chunk(self, payload: str, pieces: int) -> dict[str, Any]:
        """One ``data:`` event of a stream, decoded; anything but a JSON object raises
        LLMUnavailableError (after the pieces already yielded, like a cut stream): skipping it
        would pass a reply with a hole in it, or an empty one, for a whole answer."""
        try:
            chunk = json.loads(payload)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            raise self._unavailable(
                f"sent a stream event that is not a completion chunk after {pieces} pieces: {self._preview(payload)}"
            )
        return chunk

    # -- requests --------------------------------------------------------------------------------
    async def generate(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> Generation:
        """One completion.

        Raises:
            bot.ml.LLMBusyError: the queue is full, or the server answered 429 / 503.
            TimeoutError: the request, from waiting for a slot to the body's last byte, took longer
                than ``llm.timeout_s`` (httpx's own timeout bounds each read only: a server
                trickling its body could run past it many times over).
            LLMUnavailableError: the server is unreachable, failed, or answered nonsense.
        """
        async with asyncio.timeout(self.settings.timeout_s):
            await self._acquire()
            started = time.perf_counter()
            try:
                try:
                    response = await self._client.post(
                        "/chat/completions", json=self._body(messages, max_new_tokens, stop, False)
                    )
                except httpx.TimeoutException as exc:
                    raise TimeoutError(str(exc)) from exc
                except httpx.HTTPError as exc:
                    raise self._unreachable(exc) from exc
                self._check(response)
            finally:
                self._slots.release()
        data, choice, text = self._first_choice(response.text)
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        completion = _count(usage.get("completion_tokens"))
        LLM_LATENCY.labels("openai").observe(time.perf_counter() - started)
        LLM_TOKENS.labels("openai").inc(completion)
        return Generation(
            text=text,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=completion,
            finish_reason=str(choice.get("finish_reason") or "stop"),
        )

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> AsyncIterator[str]:
        """Server-sent events: yield each ``delta.content`` until ``[DONE]``.

        A stream that stops before the server says the reply is complete (``[DONE]``, or a choice
        with a ``finish_reason``), or sends an event that is not a JSON chunk, raises
        LLMUnavailableError after the pieces it did send: a caller must not take half an answer for
        a whole one. Comments, keep-alives and other SSE fields (``: ping``, ``event: ...``, an
        empty ``data:``) are skipped. A body that is not an event stream (a server
        or proxy that ignores ``"stream": true``) is read as one completion, yielded whole, or
        quoted in the error like :meth:`generate` does. Errors are those of :meth:`generate`;
        ``llm.timeout_s`` bounds the whole request (pieces received before the deadline are
        handed over), not each read.
        """
        deadline = asyncio.get_running_loop().time() + self.settings.timeout_s
        # Each wait is bounded on its own (asyncio.timeout_at), never across a yield: a deadline
        # held over a yield would cancel whatever the caller awaits between two pieces.
        async with asyncio.timeout_at(deadline):
            await self._acquire()
        try:
            body = self._body(messages, max_new_tokens, stop, True)
            finished = False
            opened = False
            pieces = 0
            try:
                async with contextlib.AsyncExitStack() as stack:
                    async with asyncio.timeout_at(deadline):
                        response = await stack.enter_async_context(
                            self._client.stream("POST", "/chat/completions", json=body)
                        )
                        opened = True
                        if not response.is_success:
                            await response.aread()
                            self._check(response)
                    reader = _EventReader("text/event-stream" in response.headers.get("content-type", ""))
                    events = await stack.enter_async_context(
                        contextlib.aclosing(_until(deadline, reader.payloads(response.aiter_lines())))
                    )
                    async for payload in events:
                        if payload == "[DONE]":
                            return
                        if not payload:
                            continue  # an empty event, as some servers send to keep the connection open
                        chunk = self._stream_chunk(payload, pieces)
                        if chunk.get("error") or chunk.get("object") == "error":
                            # vLLM and llama.cpp report failures mid-stream as an error event; older
                            # vLLM sends its error response itself ({"object": "error", "message": ...}).
                            detail = chunk.get("error") or chunk.get("message") or chunk
                            raise self._unavailable(f"reported an error mid-stream: {self._preview(str(detail))}")
                        for choice in chunk.get("choices") or ():
                            if not isinstance(choice, dict):
                                continue
                            delta = choice.get("delta")
                            piece = _text_of(delta.get("content")) if isinstance(delta, dict) else ""
                            if piece is None:
                                raise self._unavailable(
                                    f"sent a stream event that is not a completion chunk after {pieces} pieces: "
                                    f"{self._preview(payload)}"
                                )
                            if piece:
                                pieces += 1
                                yield piece
                            # Some servers end with a finish_reason and close, without [DONE].
                            finished = finished or bool(choice.get("finish_reason"))
                    if not reader.sse and reader.other:
                        # A server or proxy that ignores "stream": true sends one whole completion
                        # (answered from), whatever content type it gives it; an HTML page or an
                        # error object sent with 200 is quoted.
                        _, _, text = self._first_choice("\n".join(reader.other))
                        if text:
                            yield text
                        return
            except httpx.TimeoutException as exc:
                raise TimeoutError(str(exc)) from exc
            except httpx.HTTPError as exc:
                if not opened:
                    raise self._unreachable(exc) from exc
                # The connection dropped mid-body (a server process killed, a proxy's idle cut).
                raise self._unavailable(
                    f"broke off the stream after {pieces} pieces: {type(exc).__name__}: {self._preview(str(exc))}"
                ) from exc
            if not finished:
                raise self._unavailable(f"ended the stream after {pieces} pieces without finishing the reply")
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class _EventReader:
    """The events of a streamed body: one payload per server-sent event, its ``data:`` lines joined
    with a line break (an event may split its JSON over several; it ends at a blank line or the
    body's end). Other lines of a body that turns out not to be an event stream are kept in
    :attr:`other` (up to ``_OTHER_LINES``), to answer from or to quote."""

    def __init__(self, events: bool) -> None:
        self.events = events  # the content type said text/event-stream
        self.sse = False  # a "data:" line came: an event stream, whatever its content type said
        self.other: list[str] = []

    async def payloads(self, lines: AsyncIterator[str]) -> AsyncGenerator[str, None]:
        """Each event's data, stripped (``""`` for an empty keep-alive event)."""
        data: list[str] = []
        first = True
        async for line in lines:
            if first:
                # A byte-order mark before the first field (the SSE spec allows one) hid the first
                # event: httpx decodes UTF-8 without dropping it.
                line = line.removeprefix("\ufeff")
                first = False
            if line.startswith("data:"):
                self.sse = True
                data.append(line[5:])
            elif data and not line.strip():
                for payload in _event_data(data):
                    yield payload
                data = []
            elif not self.sse and len(self.other) < _OTHER_LINES and not (self.events and _sse_field(line)):
                # Labelled an event stream or not, a body without a "data:" line may be a whole
                # completion; the comments and fields of an event stream are not part of one.
                self.other.append(line)
        for payload in _event_data(data):
            yield payload


def _sse_field(line: str) -> bool:
    """Whether ``line`` is a blank line, a comment or a field of an event stream other than ``data``."""
    return not line.strip() or line.startswith((":", "event:", "id:", "retry:"))


async def _until(deadline: float, items: AsyncGenerator[_T, None]) -> AsyncGenerator[_T, None]:
    """``items``, each waited for until ``deadline`` (loop time) at the latest, then TimeoutError."""
    async with contextlib.aclosing(items):
        while True:
            async with asyncio.timeout_at(deadline):
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
            yield item


def _shown_forms(key: str) -> list[str]:
    """``key`` as an error may show it, to mask: as given, stripped, and escaped as ``repr`` or a
    bytes literal writes it (h11 quotes a header it refuses as ``b'Bearer ...\\n'``)."""
    forms = {key, key.strip(), " ".join(key.split())}
    forms.add(key.encode("unicode_escape").decode("ascii"))
    forms.add(str(key.encode("utf-8", "backslashreplace"))[2:-1])
    forms.add(repr(key)[1:-1])
    return sorted((f for f in forms if f), key=len, reverse=True)


def _event_data(lines: list[str]) -> list[str]:
    """The payload of one event's ``data:`` lines. A server that ends no event with a blank line
    runs its events together: lines that are not one JSON document joined are taken one by one."""
    if len(lines) <= 1:
        return [line.strip() for line in lines]
    joined = "\n".join(line.removeprefix(" ") for line in lines).strip()
    try:
        json.loads(joined)
    except ValueError:
        return [line.strip() for line in lines]
    return [joined]


def _text_of(content: object) -> str | None:
    """The text of a message's or delta's ``content``: a string, or the text parts of a list of
    parts (``[{"type": "text", "text": ...}]``, as newer servers send) joined; ``""`` for none, and
    ``None`` for a shape that is not a content at all (the caller reports the body)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        # Other parts (a refusal, an image, audio) are not text for a chat reply.
    return "".join(texts)


def _count(value: object) -> int:
    """A token count from ``usage`` (0 when a server sends none, or something that is not a number)."""
    if not isinstance(value, (int, float, str)):
        return 0
    try:
        return int(value)
    except (ValueError, OverflowError):
        return 0
