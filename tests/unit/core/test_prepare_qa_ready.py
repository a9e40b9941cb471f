"""The console says when questions can be answered: once the model is loaded, on every start.

"Index ready" was printed on the first run only (a restart printed nothing), and before the model
had loaded (17-22 s more on 2 CPU cores), so the first answers still kept the newcomer waiting.
"""

from __future__ import annotations

from typing import Any

from bot.run_cli import prepare_qa
from bot.testing import HashEmbedder, ScriptedLLM


class LoadingLLM(ScriptedLLM):
    """An LLM whose warm-up is the model load: records what the console had said by then."""

    def __init__(self, notes: list[str]) -> None:
        super().__init__("unused")
        self.loaded = False
        self.notes = notes
        self.said_before_load: list[str] = []

    async def warmup(self) -> None:
        self.said_before_load = list(self.notes)
        self.loaded = True


async def app_with(make_app: Any, settings: Any, llm: Any, *, warmup: bool) -> Any:
    llm_settings = settings.llm.model_copy(update={"warmup": warmup})
    app, _ = await make_app(
        brains=["qa"],
        llm=llm,
        embedder=HashEmbedder(),
        settings_override=settings.model_copy(update={"llm": llm_settings}),
    )
    return app


async def test_ready_is_said_once_the_model_is_loaded(make_app: Any, settings: Any) -> None:
    notes: list[str] = []
    llm = LoadingLLM(notes)
    app = await app_with(make_app, settings, llm, warmup=True)
    await prepare_qa(app, index_history=True, notice=notes.append)
    assert llm.loaded
    assert llm.said_before_load and all("loading the language model" in n for n in llm.said_before_load)
    assert notes[0].startswith("Index ready (")
    assert notes[-1].startswith("Ready:") and "@guildhall" in notes[-1]


async def test_a_restart_says_ready_too(make_app: Any, settings: Any) -> None:
    notes: list[str] = []
    app = await app_with(make_app, settings, LoadingLLM(notes), warmup=True)
    await prepare_qa(app, notice=notes.append)  # nothing to index: the demo was seeded before
    assert len(notes) == 1 and notes[0].startswith("Ready:")


async def test_without_warm_up_it_says_the_model_loads_with_the_first_question(make_app: Any, settings: Any) -> None:
    notes: list[str] = []
    app = await app_with(make_app, settings, LoadingLLM(notes), warmup=False)
    await prepare_qa(app, notice=notes.append)
    assert len(notes) == 1 and "loads with the first question" in notes[0]
