"""``[llm]`` settings that would only fail at the first question are refused by ``check-config``:
a key with a stray line break or invisible character, a base URL httpx cannot use, a bundled model
name that names nothing; and the backend turns what slips through into its one error."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.config import ConfigError, LLMSettings, load_settings
from brain.qa.llm.errors import LLMUnavailableError
from brain.qa.llm.openai_backend import OpenAICompatibleLLM
from brain.qa.llm.transformers_backend import BUNDLED, ModelNotFoundError, resolve_model

KEY = "vllm-token-0123456789"


@pytest.mark.parametrize("raw", [f"{KEY}\n", f"{KEY}\r\n", f" {KEY} ", f"\t{KEY}\r"])
def test_a_key_from_a_secret_file_loses_its_line_break(raw: str) -> None:
    # `kubectl create secret --from-file` keeps the file's last line break.
    key = LLMSettings(backend="openai", api_key=SecretStr(raw)).api_key
    assert key is not None and key.get_secret_value() == KEY


@pytest.mark.parametrize("raw", [f"tok\u200ben-{KEY}", f"{KEY}\x1b", f"to\nken-{KEY}", f"clé-{KEY}"])
def test_a_key_with_a_character_no_header_can_carry_is_a_config_error_that_does_not_echo_it(
    raw: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"GUILDHALL_LLM__API_KEY": raw})
    message = str(caught.value)
    assert message.startswith("llm.api_key:") and "printable ASCII" in message, message
    assert KEY not in message and raw not in message


def test_an_empty_key_is_no_key() -> None:
    assert LLMSettings(api_key=SecretStr(" \n")).api_key is None


@pytest.mark.parametrize(
    "url", ["http://[::1/v1", "localhost:8000/v1", "htp://localhost:8000/v1", "", "http:///v1", "http://host:99999/v1"]
)
def test_a_base_url_httpx_cannot_use_is_a_config_error(url: str) -> None:
    with pytest.raises(ValidationError, match=r"llm\.base_url"):
        LLMSettings(backend="openai", base_url=url)


@pytest.mark.parametrize("url", ["http://localhost:8000/v1", "https://api.example.com/v1/", "http://[::1]:8000/v1"])
def test_a_good_base_url_is_kept(url: str) -> None:
    assert LLMSettings(backend="openai", base_url=url).base_url == url


def test_surrounding_spaces_are_dropped_from_the_base_url() -> None:
    assert LLMSettings(base_url=" http://localhost:8000/v1 \n").base_url == "http://localhost:8000/v1"


@pytest.mark.parametrize(
    ("field", "value"), [("base_url", "http://[::1/v1"), ("api_key", SecretStr(f"tok\u200ben-{KEY}"))]
)
def test_a_client_that_cannot_be_built_is_unavailable_not_a_crash(field: str, value: object) -> None:
    # Settings built without validation (a test, a caller that bypasses the config loader).
    settings = LLMSettings.model_construct(**{**LLMSettings(backend="openai").model_dump(), field: value})
    with pytest.raises(LLMUnavailableError) as caught:
        OpenAICompatibleLLM(settings)
    assert "llm." in str(caught.value) and KEY not in str(caught.value)


def test_an_unknown_bundled_model_is_a_config_error_naming_the_bundled_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        LLMSettings(model="bundled:SmolLM2-1.7B-Instruct")
    assert BUNDLED in str(caught.value)
    assert LLMSettings(model=BUNDLED).model == BUNDLED


def test_resolve_model_names_the_bundled_models_for_an_unknown_one() -> None:
    with pytest.raises(ModelNotFoundError, match=BUNDLED):
        resolve_model("bundled:SmolLM2-1.7B-Instruct")
