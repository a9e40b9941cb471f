"""Any OpenAI-compatible chat endpoint (vLLM, TGI, llama.cpp server, Ollama), with streaming.

A semaphore bounds requests in flight (``max_concurrency``) and the number allowed to wait for a
slot (``max_queue``): beyond that the caller gets :class:`bot.ml.LLMBusyError` at once. HTTP 429 and
503 from the server are reported the same way; a slow server raises ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from bot.config import LLMSettings
from bot.metrics import LLM_LATENCY, LLM_TOKENS
from bot.ml import ChatMessage, Generation, LLMBusyError


class OpenAICompatibleLLM:
    """:class:`bot.ml.LLM` over ``POST {base_url}/chat/completions``."""

    def __init__(self, settings: LLMSettings, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        headers = {"Content-Type": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._client = client or httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"), headers=headers, timeout=settings.timeout_s
        )
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._waiting = 0

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
            body["stop"] = list(stop)[:4]  # the API accepts at most four
        return body

    async def _acquire(self) -> None:
        if self._slots.locked() and self._waiting >= self.settings.max_queue:
            raise LLMBusyError("the model server is at capacity")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code in (429, 503):
            raise LLMBusyError(f"model server answered {response.status_code}")
        if response.status_code >= 400:
            raise RuntimeError(f"model server error {response.status_code}: {response.text[:200]}")

    async def generate(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> Generation:
        """One completion."""
        await self._acquire()
        started = time.perf_counter()
        try:
            try:
                response = await self._client.post(
                    "/chat/completions", json=self._body(messages, max_new_tokens, stop, False)
                )
            except httpx.TimeoutException as exc:
                raise TimeoutError(str(exc)) from exc
            self._check(response)
            data = response.json()
        finally:
            self._slots.release()
        choice = (data.get("choices") or [{}])[0]
        text = str((choice.get("message") or {}).get("content") or "")
        usage = data.get("usage") or {}
        completion = int(usage.get("completion_tokens") or 0)
        LLM_LATENCY.labels("openai").observe(time.perf_counter() - started)
        LLM_TOKENS.labels("openai").inc(completion)
        return Generation(
            text=text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=completion,
            finish_reason=str(choice.get("finish_reason") or "stop"),
        )

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int = 128, stop: Sequence[str] = ()
    ) -> AsyncIterator[str]:
        """Server-sent events: yield each ``delta.content`` until ``[DONE]``."""
        await self._acquire()
        try:
            body = self._body(messages, max_new_tokens, stop, True)
            try:
                async with self._client.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        self._check(response)
                    async for line in response.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == "[DONE]":
                            return
                        try:
                            chunk = json.loads(payload)
                        except json.JSONDecodeError:
                            continue  # keep-alives and comments some servers interleave
                        if not isinstance(chunk, dict):
                            continue
                        if chunk.get("error"):
                            # vLLM and llama.cpp report failures mid-stream as an error event.
                            raise RuntimeError(f"model server error: {str(chunk['error'])[:200]}")
                        for choice in chunk.get("choices") or ():
                            piece = (choice.get("delta") or {}).get("content")
                            if piece:
                                yield str(piece)
            except httpx.TimeoutException as exc:
                raise TimeoutError(str(exc)) from exc
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
