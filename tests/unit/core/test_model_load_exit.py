"""Quitting while the local model loads exits at once.

The model loaded in the event loop's default executor, whose threads the end of ``asyncio.run``
and the interpreter wait for: ``/quit`` right after "Index ready" froze 15-26 s after "bye". The
load only reads model files, so nothing is left half-written when the process does not wait.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import asyncio, time
import brain.qa.llm.transformers_backend as backend
from bot.config import LLMSettings

def slow_load(settings):
    time.sleep(60)
    raise RuntimeError("never reached")

backend.load_model = slow_load

async def main():
    llm = backend.TransformersLLM(LLMSettings())
    loading = asyncio.create_task(llm.load())
    await asyncio.sleep(0.5)
    loading.cancel()
    await asyncio.gather(loading, return_exceptions=True)

asyncio.run(main())
print("bye", flush=True)
"""


def test_cancelling_a_model_load_does_not_hold_the_exit() -> None:
    root = Path(__file__).resolve().parents[3]
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=root, timeout=50)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bye"
    assert elapsed < 20, f"exit waited {elapsed:.0f} s for the model load"
