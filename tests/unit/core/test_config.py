"""Settings: env beats file, secrets only from env, precise errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import ConfigError, load_settings


def test_defaults_are_the_embedded_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./guildhall.toml
    s = load_settings(environ={})
    assert s.platforms == []
    assert s.store.url.startswith("sqlite://")
    assert s.bus.kind == "memory"
    assert s.llm.backend == "transformers"


def test_a_missing_file_a_misspelt_key_or_a_bad_time_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(environ={"GUILDHALL_CONFIG": str(tmp_path / "nope.toml")})
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[qa]\nhelp_channel_idz = ["C1"]\n[recommend]\ndigest_time = "25:00"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg, environ={})
    assert "qa.help_channel_idz: Extra inputs are not permitted" in str(caught.value)
    assert "recommend.digest_time" in str(caught.value) and "expected HH:MM" in str(caught.value)
    cfg.write_text('[recommend]\ndigest_time = "7:5"\n')
    assert load_settings(cfg, environ={}).recommend.digest_time == "07:05"


def test_a_bad_weekly_board_time_is_a_config_error_not_a_crash_at_start(tmp_path: Path) -> None:
    # check-config said "OK", then `guildhall run` died in the scheduler with a traceback.
    with pytest.raises(ConfigError, match=r"activity\.leaderboard_post_time.*expected HH:MM"):
        load_settings(environ={"GUILDHALL_CONFIG": os.devnull, "GUILDHALL_ACTIVITY__LEADERBOARD_POST_TIME": "25:99"})
    env = {"GUILDHALL_CONFIG": os.devnull, "GUILDHALL_ACTIVITY__LEADERBOARD_POST_TIME": "9:5"}
    assert load_settings(environ=env).activity.leaderboard_post_time == "09:05"


@pytest.mark.parametrize("kind", ["not utf-8", "a directory"])
def test_an_unreadable_config_file_is_a_config_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "guildhall.toml"
    if kind == "a directory":
        path.mkdir()
    else:
        path.write_bytes(b'timezone = "Europe/Z\xfcrich"\n')
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path, environ={})


def test_env_overrides_file_and_nested_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('timezone = "Europe/Berlin"\n[llm]\nmax_new_tokens = 64\nbackend = "openai"\n')
    s = load_settings(cfg, environ={"GUILDHALL_LLM__MAX_NEW_TOKENS": "200"})
    assert s.llm.max_new_tokens == 200
    assert s.llm.backend == "openai"
    assert s.timezone == "Europe/Berlin"


def test_platform_env_names_are_honoured(tmp_path: Path) -> None:
    s = load_settings(environ={"DISCORD_TOKEN": "abc", "SLACK_BOT_TOKEN": "xoxb-1", "GUILDHALL_CONFIG": os.devnull})
    assert s.platforms == ["discord", "slack"]
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "abc"
    assert "abc" not in repr(s)  # secrets never print


def test_secrets_dir_holds_one_file_per_variable(tmp_path: Path) -> None:
    # As Docker and Kubernetes mount secrets: one file per variable, named like it.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "GUILDHALL_DISCORD__TOKEN").write_text("tok-from-file\n")
    (secrets / "guildhall_slack__bot_token").write_text("xoxb-from-file")
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[discord]\ncommand_guild_ids = ["1"]\n')
    s = load_settings(cfg, environ={"GUILDHALL_SECRETS_DIR": str(secrets)})
    assert s.discord.token is not None and s.discord.token.get_secret_value() == "tok-from-file"
    assert s.slack.bot_token is not None and s.slack.bot_token.get_secret_value() == "xoxb-from-file"
    assert s.discord.command_guild_ids == ["1"]  # the file's other keys in the same section stay
    env = {"GUILDHALL_SECRETS_DIR": str(secrets), "GUILDHALL_DISCORD__TOKEN": "tok-from-env"}
    assert load_settings(cfg, environ=env).discord.token.get_secret_value() == "tok-from-env"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="GUILDHALL_SECRETS_DIR"):
        load_settings(cfg, environ={"GUILDHALL_SECRETS_DIR": str(tmp_path / "missing")})
    # The platforms' own names work as files too, as they do as variables.
    (secrets / "SLACK_APP_TOKEN").write_text("xapp-from-file\n")
    (secrets / "SLACK_BOT_TOKEN").write_text("xoxb-short-name")  # the GUILDHALL_ file above wins
    s = load_settings(cfg, environ={"GUILDHALL_SECRETS_DIR": str(secrets)})
    assert s.slack.app_token is not None and s.slack.app_token.get_secret_value() == "xapp-from-file"
    assert s.slack.bot_token is not None and s.slack.bot_token.get_secret_value() == "xoxb-from-file"


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('[slack]\nbot_token = "xoxb-123"\n')
    with pytest.raises(ConfigError, match=r"\[slack\]\.bot_token is a secret.*GUILDHALL_SLACK__BOT_TOKEN"):
        load_settings(cfg, environ={})


def test_errors_name_each_bad_key(tmp_path: Path) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text('timezone = "Mars/Olympus"\n[llm]\nmax_new_tokens = -1\n[store]\nurl = "mysql://x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    text = str(info.value)
    assert "timezone" in text and "llm.max_new_tokens" in text and "store.url" in text


def test_check_config_command_reports_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text("[bus]\nkind = 'kafka'\n")
    runner = CliRunner()
    result = runner.invoke(app, ["check-config", "--config", str(cfg), "--json"])
    assert result.exit_code == 2
    assert "bus.kind" in result.output
    cfg.write_text("")
    ok = runner.invoke(app, ["check-config", "--config", str(cfg), "--json"])
    assert ok.exit_code == 0 and '"ok": true' in ok.output


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "needs SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "GUILDHALL_SLACK__MODE": "http"}, "needs SLACK_SIGNING_SECRET"),
    ],
)
def test_check_config_reports_what_slack_lacks_to_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], error: str
) -> None:
    # `run` stopped with this error; check-config said "configuration OK" for the same settings.
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["check-config"])
    assert result.exit_code == 2 and error in result.output
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    assert CliRunner().invoke(app, ["check-config"]).exit_code == 0


def test_the_vector_index_lives_under_data_dir_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The default data_dir gives the old default path, so existing installs keep their index.
    assert load_settings(environ={}).vectors.path == "data/chroma"
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "srv"}"\n')
    assert load_settings(cfg, environ={}).vectors.path == str(tmp_path / "srv" / "chroma")
    assert load_settings(environ={"GUILDHALL_DATA_DIR": "/var/gh"}).vectors.path == "/var/gh/chroma"
    cfg.write_text(f'data_dir = "{tmp_path / "srv"}"\n[vectors]\npath = "data/chroma"\n')
    assert load_settings(cfg, environ={}).vectors.path == "data/chroma"  # configured: kept as is
    explicit = {"GUILDHALL_DATA_DIR": "/var/gh", "GUILDHALL_VECTORS__PATH": "/idx"}
    assert load_settings(environ=explicit).vectors.path == "/idx"


@pytest.mark.parametrize(
    ("brains", "needs"), [('["recommend", "activity"]', "recommend"), ('["community"]', "community")]
)
def test_a_brain_that_needs_qa_without_it_is_a_config_error(tmp_path: Path, brains: str, needs: str) -> None:
    """The recommender ranks with the QA index's embeddings: without qa every digest failed at run
    time while check-config said OK."""
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text(f"brains = {brains}\n")
    with pytest.raises(ConfigError, match=f"the {needs} brain needs the qa brain"):
        load_settings(cfg, environ={})
    cfg.write_text('brains = ["qa", "recommend"]\n')
    assert load_settings(cfg, environ={}).brains == ["qa", "recommend"]


def _empty_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "guildhall.toml"
    cfg.write_text("")
    return cfg


@pytest.mark.parametrize(
    ("env", "first_line"),
    [
        ({"GUILDHALL_BRAINS": "qa,activity"}, "GUILDHALL_BRAINS: not a JSON list"),
        ({"GUILDHALL_LLM": "{backend"}, "GUILDHALL_LLM: not a JSON object"),
    ],
)
def test_a_value_that_is_not_json_names_its_own_variable(tmp_path: Path, env: dict[str, str], first_line: str) -> None:
    # It was reported as "GUILDHALL_SECRETS_DIR: error parsing value for field ..." although no
    # secrets folder was configured, sending the operator to the wrong place.
    with pytest.raises(ConfigError) as caught:
        load_settings(_empty_config(tmp_path), environ=env)
    assert str(caught.value).startswith(first_line)
    assert "SECRETS_DIR" not in str(caught.value)
    listed = load_settings(_empty_config(tmp_path), environ={"GUILDHALL_BRAINS": '["qa", "activity"]'})
    assert listed.brains == ["qa", "activity"]


def test_a_bad_log_level_is_a_config_error_not_a_traceback_at_run(tmp_path: Path) -> None:
    # check-config said OK and `guildhall run` died in logging.setLevel("LOUD") with a traceback.
    with pytest.raises(ConfigError, match=r"log_level: .*unknown log level 'LOUD'"):
        load_settings(_empty_config(tmp_path), environ={"GUILDHALL_LOG_LEVEL": "LOUD"})
    assert load_settings(_empty_config(tmp_path), environ={"GUILDHALL_LOG_LEVEL": "debug"}).log_level == "DEBUG"


def test_check_config_warns_about_a_misspelt_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GUILDHALL_TIMEZON=Europe/Berlin was silently ignored: schedules ran in UTC and check-config said OK.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GUILDHALL_TIMEZON", "Europe/Berlin")
    monkeypatch.setenv("GUILDHALL_CONFIG", str(tmp_path / "guildhall.toml"))
    (tmp_path / "guildhall.toml").write_text("")
    result = CliRunner().invoke(app, ["check-config", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["warnings"] == ["GUILDHALL_TIMEZON is not a setting (ignored); check its spelling"]
    text = CliRunner().invoke(app, ["check-config"])
    assert "warning: GUILDHALL_TIMEZON is not a setting" in text.output
