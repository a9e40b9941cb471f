"""Typed settings: environment variables plus an optional ``guildhall.toml``.

Precedence (highest first): environment (``GUILDHALL_`` prefix, ``__`` between nested keys, e.g.
``GUILDHALL_LLM__BACKEND=openai``), then the TOML file (``GUILDHALL_CONFIG`` or ``./guildhall.toml``),
then defaults. Secrets (tokens, keys) are accepted from the environment or a secrets directory only:
a secret written in the TOML file is refused, because config files end up in git.
The well-known platform variables ``DISCORD_TOKEN``, ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN`` and
``SLACK_SIGNING_SECRET`` are honoured too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NestedSecretsSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from bot.scheduler import parse_hhmm

SECRET_FIELDS = {
    ("discord", "token"),
    ("slack", "bot_token"),
    ("slack", "app_token"),
    ("slack", "signing_secret"),
    ("slack", "client_secret"),
    ("llm", "api_key"),
}
_PLATFORM_ENV = {
    "DISCORD_TOKEN": ("discord", "token"),
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "SLACK_SIGNING_SECRET": ("slack", "signing_secret"),
    "SLACK_CLIENT_ID": ("slack", "client_id"),
    "SLACK_CLIENT_SECRET": ("slack", "client_secret"),
    "OPENAI_API_KEY": ("llm", "api_key"),
}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEPRECATED_HELP_FORUM_IDS = (
    "discord.help_forum_ids is deprecated and ignored: Discord forum channels already count as help "
    "channels; list other help channels in qa.help_channel_ids"
)
DEPRECATED_APPLICATION_ID = (
    "discord.application_id is deprecated and ignored: the bot learns its application id from "
    "DISCORD_TOKEN when it logs in; remove GUILDHALL_DISCORD__APPLICATION_ID"
)

log = logging.getLogger(__name__)


class _Section(BaseModel):
    """A ``[section]`` of guildhall.toml: a misspelt key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class DiscordSettings(_Section):
    """Discord bot connection."""

    token: SecretStr | None = None
    # Never read: discord.py asks Discord for the token's application at login, before any command
    # sync, and a configured id that named another application would only make the sync fail.
    # Still accepted (warned about once), like help_forum_ids, so configs that set it still load.
    application_id: str | None = Field(default=None, deprecated=DEPRECATED_APPLICATION_ID)
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[int] | None = None
    command_guild_ids: list[str] = Field(default_factory=list)
    admin_role_ids: list[str] = Field(default_factory=list)
    # Never read: forum channels count as help channels by themselves. Still accepted, because
    # refusing it (extra="forbid") would stop configs that set it from loading; warned about once.
    help_forum_ids: list[str] = Field(default_factory=list, deprecated=DEPRECATED_HELP_FORUM_IDS)

    @field_validator("command_guild_ids", "admin_role_ids", mode="before")
    @classmethod
    def _snowflakes_as_text(cls, value: Any) -> Any:
        # A snowflake written as a TOML or JSON number (admin_role_ids = [1234...]) is exact there
        # (64-bit integers): taken as its digits, not refused for want of quotes.
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @model_validator(mode="after")
    def _warn_deprecated(self) -> DiscordSettings:
        for warning in self.deprecation_warnings():
            log.warning(warning)
        return self

    def deprecation_warnings(self) -> list[str]:
        """One line per deprecated key this section sets (ignored, but still accepted)."""
        deprecated = {"help_forum_ids": DEPRECATED_HELP_FORUM_IDS, "application_id": DEPRECATED_APPLICATION_ID}
        return [warning for key, warning in deprecated.items() if key in self.model_fields_set]

    @model_validator(mode="after")
    def _shards_fit(self) -> DiscordSettings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("shard_ids needs shard_count")
        if self.shard_ids and self.shard_count and max(self.shard_ids) >= self.shard_count:
            raise ValueError("every shard id must be < shard_count")
        return self


class SlackSettings(_Section):
    """Slack app connection."""

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    mode: Literal["socket", "http"] = "socket"
    http_port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port (tests)
    http_path: str = "/slack/events"
    admin_usergroup_ids: list[str] = Field(default_factory=list)
    api_base_url: str | None = None

    def connection_problems(self) -> list[str]:
        """What the configured mode lacks to connect (empty when Slack is not configured or complete).

        Not a validation error: commands that never connect (import, eval, privacy) must still load
        these settings. ``check-config`` and the adapter (at its start, and when Slack's SDK refuses
        the settings as it is built) ask this one place.
        """
        if not (self.bot_token or self.client_id):
            return []
        problems = []
        if not self.bot_token and not self.client_secret:
            # A client id alone is neither mode: OAuth needs the secret to exchange install codes
            # (Bolt refused to start with "SLACK_BOT_TOKEN or token ... is required").
            problems.append(
                "slack.client_id (SLACK_CLIENT_ID) needs SLACK_CLIENT_SECRET for multi-workspace installs (OAuth); "
                "for a single workspace set SLACK_BOT_TOKEN instead"
            )
        if self.mode == "socket" and self.app_token is None:
            problems.append("slack.mode=socket needs SLACK_APP_TOKEN (an xapp- app-level token)")
        if self.mode == "http" and not self.signing_secret:
            problems.append("slack.mode=http needs SLACK_SIGNING_SECRET to verify requests")
        return problems

    def stray_secrets(self) -> list[str]:
        """The problem of Slack secrets set without what names the app (no ``SLACK_BOT_TOKEN``
        nor ``SLACK_CLIENT_ID``: a misspelled bot token, say), or nothing. With no other platform
        the bot would open the console chat instead, without a word about Slack; beside Discord
        they are leftovers worth a warning."""
        if self.bot_token or self.client_id:
            return []
        stray = [
            variable
            for variable, value in (
                ("SLACK_APP_TOKEN", self.app_token),
                ("SLACK_SIGNING_SECRET", self.signing_secret),
                ("SLACK_CLIENT_SECRET", self.client_secret),
            )
            if value is not None and value.get_secret_value()
        ]
        if not stray:
            return []
        return [
            f"{' and '.join(stray)} {'is' if len(stray) == 1 else 'are'} set, but neither SLACK_BOT_TOKEN "
            "(one workspace) nor SLACK_CLIENT_ID (multi-workspace installs): Slack would not start"
        ]


# The SQLite file before it followed data_dir: relative to the working directory.
LEGACY_STORE_URL = "sqlite:///data/guildhall.db"


def _default_store_url(data_dir: str) -> str:
    """The SQLite store inside ``data_dir``, so one data_dir is one bot's whole state (the
    data_dir lock then guards the database too).

    An install that set ``data_dir`` elsewhere but kept its database at the old fixed place
    (``data/guildhall.db`` under the working directory) keeps using it, with a warning, rather
    than start on an empty database. That is told by ``data_dir`` holding an earlier run's vector
    index and no database (not by its lock file, which a first run that failed before opening the
    store leaves too): a new ``data_dir`` (a second bot beside one on the default) gets its own
    database, never the other bot's.
    """
    folder = Path(data_dir)
    path = folder / "guildhall.db"
    url = "sqlite:///" + str(path)  # an absolute path gives sqlite:////abs/guildhall.db
    if url == LEGACY_STORE_URL or path.exists():
        return url
    legacy = Path("data") / "guildhall.db"
    ran_before = (folder / "chroma").exists()
    if ran_before and legacy.exists() and legacy.resolve() != path.resolve():
        log.warning(
            "the store stays at %s, where earlier versions put it whatever data_dir said; move it to %s "
            "(or set store.url) to keep each bot's data in its data_dir",
            legacy,
            path,
        )
        return LEGACY_STORE_URL
    return url


class StoreSettings(_Section):
    """Where facts are persisted."""

    # Default: ``sqlite:///<data_dir>/guildhall.db`` (set by Settings; this with the default data_dir).
    url: str = LEGACY_STORE_URL
    # PostgreSQL: seconds one statement may wait for the server's answer before it fails (and the
    # bus retries or dead-letters its event). Without it, a connection the network dropped silently
    # hangs its query, and every handler queued on the pool behind it, until TCP gives up.
    command_timeout_s: float = Field(default=60.0, gt=0)
    # SQLite: seconds a write waits for another process's write lock (`guildhall import` beside
    # the bot) before it fails with "database is locked".
    busy_timeout_s: float = Field(default=30.0, ge=0)
    # Days the store remembers that an event was handled (``processed_events``: a vote, a reaction
    # profiled, a similar-threads hint, a help-channel question answered), so that a redelivered or
    # re-imported event acts once. The handlers ignore events older than this (bot.core_brain.
    # dedupe_horizon), and the daily purge drops marks a day past it. At least two weeks: longer
    # than any help-channel wait (``human_first_minutes``, at most a week per workspace).
    dedupe_retention_days: int = Field(default=90, ge=14)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError("store.url must start with sqlite:// or postgresql://")
        return v


class BusSettings(_Section):
    """Event bus: in-process by default, Redis Streams at scale."""

    kind: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://localhost:6379/0"
    stream_prefix: str = "guildhall"
    # Events each in-process subscription may hold before publishers wait (back-pressure); a batch
    # subscriber's queue holds at least two of its batches (the recorder: 2 x 20,000).
    queue_size: int = Field(default=10_000, ge=1)
    maxlen: int = Field(default=1_000_000, ge=1000)
    claim_idle_ms: int = Field(default=30_000, ge=100)
    max_deliveries: int = Field(default=5, ge=1)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        # Checked here so every command says so in one line (redis-py raises deep in the bus).
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("bus.redis_url must start with redis://, rediss:// or unix://")
        return v


class VectorSettings(_Section):
    """Vector index: embedded Chroma by default, a Chroma server at scale."""

    kind: Literal["embedded", "http"] = "embedded"
    # Default: ``<data_dir>/chroma`` (set by Settings; "data/chroma" with the default data_dir).
    path: str = "data/chroma"
    host: str = "localhost"
    port: int = 8000
    collection: str = "guildhall_units"


class EmbeddingSettings(_Section):
    """Sentence-embedding model; ``model`` is a path or the bundled default."""

    model: str = "bundled:all-MiniLM-L6-v2"
    batch_size: int = Field(default=64, ge=1)
    device: str = "cpu"


# The models shipped in a package that ``llm.model`` may name (``brain.qa.llm.transformers_backend``).
BUNDLED_LLM_MODELS = ("bundled:SmolLM2-135M-Instruct",)


class LLMSettings(_Section):
    """Answer generation backend."""

    backend: Literal["transformers", "openai", "scripted"] = "transformers"
    model: str = "bundled:SmolLM2-135M-Instruct"
    gguf_file: str | None = None
    base_url: str = "http://localhost:8000/v1"
    api_key: SecretStr | None = None
    openai_model: str = "default"
    max_new_tokens: int = Field(default=128, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1)
    max_queue: int = Field(default=64, ge=1)
    batch_window_ms: float = Field(default=20.0, ge=0)
    max_batch: int = Field(default=16, ge=1)
    device_map: str = "auto"
    warmup: bool = True
    cpu_threads: int | None = Field(default=None, ge=1)  # None: all cores but one (all, on <= 2 cores)
    # Greedy decoding of a lone request proposes up to this many tokens from its prompt (n-gram lookup)
    # and verifies them in one step; 0 decodes one token per step.
    prompt_lookup_tokens: int = Field(default=8, ge=0, le=32)
    # A prompt prefilled alone reuses the KV cache of the prefix it shares with a recent one (the
    # system prompt), up to this many tokens; 0 recomputes every prompt from its first token.
    prefix_cache_tokens: int = Field(default=512, ge=0)
    # On a CPU, one-token decoding steps multiply by a float16 copy of the weights (half the memory
    # traffic, float32 accumulation); prefill, batches and speculative checks keep float32. Off by
    # default: an answer then depends on whether it was decoded alone or next to others, and the
    # gain depends on the CPU (~30 % per token on an AVX2 EPYC, none on an AVX-512 Xeon).
    cpu_half_decode: bool = False

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Checked here so check-config says so: httpx refused it only when the first question
        # built the client ("Invalid port"), or sent "localhost:8000/v1" to a "localhost:" scheme.
        import httpx  # a dependency anyway; imported here to keep importing settings light

        value = value.strip()
        example = "write it like http://localhost:8000/v1"
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"llm.base_url is not a valid URL ({exc}); {example}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"llm.base_url must start with http:// or https:// and name a host; {example}")
        if url.port is not None and not 0 < url.port < 65536:
            # httpx takes it; the connection then fails with an ExceptionGroup, not an HTTP error.
            raise ValueError(f"llm.base_url: port {url.port} is out of range; {example}")
        return value

    @field_validator("api_key")
    @classmethod
    def _header_safe_key(cls, value: SecretStr | None) -> SecretStr | None:
        # A key mounted from a file (a Kubernetes or Docker secret) usually ends with a line break,
        # which no HTTP header may hold: the request failed and its error quoted the key. Surrounding
        # whitespace is dropped; anything else a header cannot carry is refused without echoing it.
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if not key:
            return None
        bad = next((i for i, c in enumerate(key) if not (c.isascii() and c.isprintable())), None)
        if bad is not None:
            raise ValueError(
                f"llm.api_key holds a character that is not printable ASCII (at position {bad + 1}), "
                "which an HTTP header cannot carry; check the secret for a stray or invisible character"
            )
        return SecretStr(key)

    @field_validator("model")
    @classmethod
    def _known_bundled_model(cls, value: str) -> str:
        # Any other "bundled:" name passed check-config, was then taken for a path and failed at
        # the first question.
        if value.startswith("bundled:") and value not in BUNDLED_LLM_MODELS:
            raise ValueError(
                f"llm.model names no bundled model ({value}); bundled: {', '.join(BUNDLED_LLM_MODELS)}, "
                "or name a local model folder or .gguf file"
            )
        return value


class QASettings(_Section):
    """Question answering."""

    k: int = Field(default=6, ge=1, le=50)
    # Characters of retrieved text in the prompt, best-ranked units first (whole while they fit,
    # then one trimmed, the rest dropped). On CPU every prompt token costs prefill time and slows
    # each decoded token; ~2,000 chars is ~600 tokens with the bundled model's tokenizer.
    context_chars: int = Field(default=2000, ge=200, le=100_000)
    rerank_model: str | None = None
    min_support: float = Field(default=0.5, ge=0.0, le=1.0)
    answer_unanswered_after_min: int | None = None
    help_channel_ids: list[str] = Field(default_factory=list)
    fallback_channel: str = "#help"
    max_question_chars: int = Field(default=2000, ge=10)
    # A cited source older than this is marked "from 2019 — may be outdated" under the answer.
    stale_after_days: float = Field(default=730.0, gt=0)
    # When it abstains, the bot still links up to this many retrieved threads whose embedding is at
    # least this close to the question (0 threads: off). Measured in benchmarks/qa_closest.py: at
    # 0.6 the linked thread is the one that answered the question about half the time.
    closest_threads: int = Field(default=2, ge=0, le=5)
    closest_min_similarity: float = Field(default=0.6, ge=0.0, le=1.0)


class CommunitySettings(_Section):
    """Answering like a good community member (follow-ups, human first, experts, shadow mode)."""

    human_first_minutes: float = Field(default=10.0, ge=0)
    followups: Literal["asker", "anyone", "off"] = "asker"
    max_followup_turns: int = Field(default=3, ge=0)
    expert_months: int = Field(default=6, ge=1)
    experts_k: int = Field(default=3, ge=1, le=10)
    max_pings_per_day: int = Field(default=2, ge=0)
    similar_threads: int = Field(default=3, ge=0, le=10)
    similar_min_score: float = Field(default=0.35, ge=0.0, le=1.0)


class RecommendSettings(_Section):
    """Personal recommendations."""

    digest_default_on: bool = False
    digest_time: str = "09:00"
    digest_size: int = Field(default=5, ge=1, le=25)
    lookback_days: int = Field(default=14, ge=1)
    half_life_days: float = Field(default=14.0, gt=0)
    exploration_share: float = Field(default=0.2, ge=0.0, le=1.0)

    @field_validator("digest_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        # Checked here so check-config says so, not the scheduler at start-up with a traceback.
        return parse_hhmm(value).strftime("%H:%M")


class ActivitySettings(_Section):
    """Leaderboards and trend alerts."""

    alerts_channel_id: str | None = None
    leaderboard_post_weekday: int = Field(default=0, ge=0, le=6)
    leaderboard_post_time: str = "10:00"
    min_words: int = Field(default=4, ge=0)
    per_minute_cap: int = Field(default=5, ge=1)
    reply_threads_per_day: int = Field(default=10, ge=1)
    # Reaction points a member scores per local day (an alt reacting to everything gains no more).
    reactions_per_day: int = Field(default=10, ge=1)
    # Helpful/answered credit one answerer earns from one asker's questions of a day (anti-ring).
    asker_threads_per_day: int = Field(default=2, ge=1)
    # Thread-started credit a member earns per day (asking is not a way to the top).
    started_threads_per_day: int = Field(default=3, ge=1)
    unanswered_after_hours: float = Field(default=4.0, gt=0)

    @field_validator("leaderboard_post_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        # As recommend.digest_time: check-config said "OK" and `guildhall run` then died at start-up.
        return parse_hhmm(value).strftime("%H:%M")


class PrivacySettings(_Section):
    """Channel policy, retention and redaction."""

    index_private_channels: list[str] = Field(default_factory=list)
    deny_channels: list[str] = Field(default_factory=list)
    retention_days: int | None = Field(default=None, ge=1)
    extra_redaction_patterns: list[str] = Field(default_factory=list)
    ask_per_member_per_minute: int = Field(default=5, ge=1)
    ask_per_channel_per_minute: int = Field(default=20, ge=1)


class Settings(BaseSettings):
    """All of Guildhall's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="GUILDHALL_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: str = "data"
    timezone: str = "UTC"
    log_level: str = "INFO"
    bot_name: str = "guildhall"
    brains: list[str] = Field(default_factory=lambda: ["qa", "recommend", "activity", "community"])
    metrics_port: int | None = None
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    qa: QASettings = Field(default_factory=QASettings)
    recommend: RecommendSettings = Field(default_factory=RecommendSettings)
    community: CommunitySettings = Field(default_factory=CommunitySettings)
    activity: ActivitySettings = Field(default_factory=ActivitySettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @field_validator("timezone")
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Berlin)") from exc
        return v

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        # Checked here: logging.setLevel("LOUD") raised a traceback at `guildhall run` while
        # check-config said OK.
        level = v.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"unknown log level {v!r} (use one of {', '.join(_LOG_LEVELS)})")
        return level

    @field_validator("brains")
    @classmethod
    def _known_brains(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - {"qa", "recommend", "activity", "community"})
        if unknown:
            raise ValueError(f"unknown brains: {', '.join(unknown)}")
        if "community" in v and "qa" not in v:
            raise ValueError("the community brain needs the qa brain")
        if "recommend" in v and "qa" not in v:
            # It ranks with the QA index's unit embeddings (one embedding per unit, never two); without
            # qa in the same process every digest failed at run time while check-config said OK.
            raise ValueError("the recommend brain needs the qa brain (it reuses its embeddings and index)")
        return v

    @model_validator(mode="after")
    def _vectors_under_data_dir(self) -> Settings:
        # The embedded index lives with the rest of the data unless a path is configured; the
        # default data_dir ("data") gives the old fixed default, so existing installs find it.
        if "path" not in self.vectors.model_fields_set:
            self.vectors.path = str(Path(self.data_dir) / "chroma")
        if "url" not in self.store.model_fields_set:
            self.store.url = _default_store_url(self.data_dir)
        return self

    def secret_values(self) -> list[str]:
        """The configured secrets in clear (for the log filter that masks them), longest first.

        Values under 8 characters (placeholders such as ``x`` in a test setup) are left out:
        masked literally, they would garble every log line containing that letter.
        """
        found = []
        for section, key in SECRET_FIELDS:
            value = getattr(getattr(self, section), key)
            if isinstance(value, SecretStr) and len(value.get_secret_value()) >= 8:
                found.append(value.get_secret_value())
        return sorted(found, key=len, reverse=True)

    def missing_model_paths(self) -> list[str]:
        """One line per configured local model that is not on disk (``check-config`` reports them).

        Models are never downloaded, so a wrong path only failed at run time: the embedder and the
        local LLM on the first question, a re-ranker by turning every answer into "Something went
        wrong" (it now loads with a warning and answers go on unranked). Checked: ``embeddings.model``
        and, with the ``transformers`` backend, ``llm.model`` (a folder or a ``.gguf`` file, plus
        ``llm.gguf_file`` in the folder) unless they name a bundled model; ``qa.rerank_model`` when
        it is written as a path (``org/name`` alone may be a model in the Hugging Face cache).
        """
        problems = []
        if not self.embeddings.model.startswith(_BUNDLED_PREFIX):
            folder = Path(self.embeddings.model).expanduser()
            if not folder.is_dir():
                problems.append(f"embeddings.model: no model folder at {folder} (a local sentence-transformers folder)")
        if self.llm.backend == "transformers" and not self.llm.model.startswith(_BUNDLED_PREFIX):
            problems.extend(_llm_model_problems(Path(self.llm.model).expanduser(), self.llm.gguf_file))
        rerank = self.qa.rerank_model
        if rerank and _written_as_path(rerank) and not Path(rerank).expanduser().is_dir():
            problems.append(
                f"qa.rerank_model: no model folder at {Path(rerank).expanduser()} (a local cross-encoder folder)"
            )
        return problems

    @property
    def tz(self) -> ZoneInfo:
        """The community's time zone for schedules and week boundaries."""
        return ZoneInfo(self.timezone)

    @property
    def platforms(self) -> list[str]:
        """Platforms with credentials configured; empty means the console adapter."""
        found = []
        if self.discord.token:
            found.append("discord")
        if self.slack.bot_token or self.slack.client_id:
            found.append("slack")
        return found

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Secret files are named like the variables they stand for (GUILDHALL_DISCORD__TOKEN), as
        # Docker and Kubernetes secrets are mounted; the folder is read when settings are built.
        secrets_dir = os.environ.get("GUILDHALL_SECRETS_DIR") or None
        if secrets_dir is None:
            return (init_settings, env_settings)
        secrets = NestedSecretsSettingsSource(
            file_secret_settings, secrets_dir=secrets_dir, secrets_dir_missing="error"
        )
        return (init_settings, env_settings, secrets)


# Model settings naming a model shipped in a package rather than a path (embeddings and LLM).
_BUNDLED_PREFIX = "bundled:"


def _llm_model_problems(path: Path, gguf_file: str | None) -> list[str]:
    """What keeps the local LLM at ``path`` (a folder or a ``.gguf`` file) from loading, if anything."""
    if path.suffix.lower() == ".gguf" or path.is_file():
        if not path.is_file():
            return [f"llm.model: model file not found: {path}"]
        if path.suffix.lower() != ".gguf":
            return [f"llm.model: {path} is a file but not a .gguf model (name a model folder or a .gguf file)"]
        return []
    if not path.is_dir():
        return [f"llm.model: model folder not found: {path}"]
    if gguf_file and not (path / gguf_file).is_file():
        return [f"llm.gguf_file: {gguf_file} is not in {path}"]
    return []


def _written_as_path(value: str) -> bool:
    """Whether a model setting is written as a filesystem path rather than a Hugging Face name
    (``name`` or ``org/name``): absolute, from ``~`` or ``.``, or more than two parts deep."""
    return Path(value).is_absolute() or value.startswith(("~", ".")) or len(Path(value).parts) > 2


class ConfigError(Exception):
    """Configuration is invalid; ``str()`` lists every problem with its key."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:  # a directory, no permission, a broken mount
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    for section, key in SECRET_FIELDS:
        if isinstance(data.get(section), dict) and key in data[section]:
            env = f"GUILDHALL_{section.upper()}__{key.upper()}"
            raise ConfigError(f"{path}: [{section}].{key} is a secret; set it in the environment ({env}) instead")
    return data


def _platform_env(environ: dict[str, str]) -> dict[str, Any]:
    """The platforms' own variable names (``SLACK_BOT_TOKEN``), from the environment or, as Docker
    and Kubernetes mount them, from a file of that name in ``GUILDHALL_SECRETS_DIR``. The
    ``GUILDHALL_...`` name, as a variable or a file, wins over either."""
    folder = environ.get("GUILDHALL_SECRETS_DIR")
    found: dict[str, Any] = {}
    for var, (section, key) in _PLATFORM_ENV.items():
        prefixed = f"GUILDHALL_{section.upper()}__{key.upper()}"
        if prefixed in environ:
            continue
        value = environ.get(var) or _secret_file(folder, var, unless=prefixed)
        if value:
            found.setdefault(section, {})[key] = value
    return found


def _secret_file(folder: str | None, name: str, *, unless: str) -> str | None:
    """The stripped content of ``folder/name`` (any case), None when absent or when ``unless`` is there too."""
    if not folder or not Path(folder).is_dir():
        return None
    files = {p.name.upper(): p for p in Path(folder).iterdir() if p.is_file()}
    if unless in files or name not in files:
        return None
    return files[name].read_text(encoding="utf-8").strip() or None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load settings from the TOML file (if any) and the environment.

    Raises:
        ConfigError: with one line per invalid key, e.g. ``llm.max_new_tokens: Input should be ...``.
    """
    env = dict(os.environ if environ is None else environ)
    toml_path = Path(path or env.get("GUILDHALL_CONFIG") or "guildhall.toml")
    file_data: dict[str, Any] = {}
    if toml_path.exists():
        file_data = _read_toml(toml_path)
    elif path is not None or env.get("GUILDHALL_CONFIG"):
        raise ConfigError(f"{toml_path}: config file not found")
    # Values from the file are passed as init kwargs, which outrank env in pydantic-settings; so we
    # drop file keys the environment also sets, keeping "environment wins".
    init = _merge(file_data, _platform_env(env))
    init = _without_env_overrides(init, env)
    try:
        if environ is not None:
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update(env)
            try:
                return Settings(**init)
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return Settings(**init)
    except SettingsError as exc:  # a value that is not JSON, or GUILDHALL_SECRETS_DIR names no folder
        raise ConfigError(_settings_error_line(exc, env)) from exc
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            example = '["123", "456"]' if loc.endswith("_ids") else '["a", "b"]'
            hint = f" (a list in brackets, like {example})" if err["type"] == "list_type" else ""
            lines.append(f"{loc}: {err['msg']}{hint}")
        raise ConfigError("\n".join(lines)) from exc


# GUILDHALL_ variables that are not settings: the config file, the secrets folder, the test suite's.
_NOT_SETTINGS = frozenset(
    {"CONFIG", "SECRETS_DIR", "TEST_STORE", "TEST_PG_URL", "SHARED_DATA", "BENCH_PG", "BENCH_REDIS"}
)


def unknown_env_vars(environ: dict[str, str] | None = None) -> list[str]:
    """``GUILDHALL_`` variables that name no setting (``GUILDHALL_TIMEZON``), sorted.

    pydantic-settings reads only the variables of known fields, so a misspelt top-level name is
    silently ignored (a misspelt key inside a section, ``GUILDHALL_LLM__BACKENDD``, is already an
    error). Reported as a warning, not an error: other tools may share the prefix.
    """
    env = os.environ if environ is None else environ
    found = []
    for var in env:
        upper = var.upper()
        if not upper.startswith("GUILDHALL_"):
            continue
        name = upper.removeprefix("GUILDHALL_")
        if name in _NOT_SETTINGS or name.split("__", 1)[0].lower() in Settings.model_fields:
            continue
        found.append(var)
    return sorted(found)


_UNPARSABLE = re.compile(r'error parsing value for field "(?P<field>\w+)" from source "(?P<source>\w+)"')


def _settings_error_line(exc: SettingsError, env: dict[str, str]) -> str:
    """One line naming what to fix: the variable (or secret file) whose value is not valid JSON,
    else the secrets folder. pydantic-settings parses list and section values as JSON before any
    validation, so ``GUILDHALL_BRAINS=qa`` fails here, not as a ``ValidationError``."""
    match = _UNPARSABLE.search(str(exc))
    if match is None:
        return f"GUILDHALL_SECRETS_DIR: {exc}"
    field = match["field"]
    var = f"GUILDHALL_{field.upper()}"
    where = var if match["source"] == "EnvSettingsSource" else f"{var} (a file in GUILDHALL_SECRETS_DIR)"
    info = Settings.model_fields.get(field)
    if info is not None and get_origin(info.annotation) is list:
        return f'{where}: not a JSON list; write it like ["qa", "activity"]'
    if match["source"] == "EnvSettingsSource":
        # A section's list key set on its own (GUILDHALL_DISCORD__ADMIN_ROLE_IDS=123,456) is parsed
        # as JSON too, and pydantic-settings blames the section: name the variable that is wrong.
        nested = _unparsable_list_var(field, env)
        if nested is not None:
            return f'{nested}: not a JSON list; write it like ["123", "456"] (quoted ids in brackets)'
    return f"{where}: not a JSON object; set its keys one by one instead ({var}__KEY=value)"


def _unparsable_list_var(section: str, env: dict[str, str]) -> str | None:
    """The ``GUILDHALL_SECTION__KEY`` variable of a list key of ``section`` whose value is not a JSON
    list; None when none is. Its value is not quoted back: it is whatever the operator pasted."""
    info = Settings.model_fields.get(section)
    model = info.annotation if info is not None else None
    if not isinstance(model, type) or not issubclass(model, BaseModel):
        return None
    prefix = f"GUILDHALL_{section.upper()}__"
    for var in sorted(env):
        if not var.upper().startswith(prefix):
            continue
        field_info = model.model_fields.get(var[len(prefix) :].lower())
        annotation = field_info.annotation if field_info is not None else None
        if list not in {get_origin(annotation), *map(get_origin, get_args(annotation))}:
            continue
        try:
            parsed = json.loads(env[var])
        except ValueError:
            parsed = None
        if not isinstance(parsed, list):
            return var
    return None


def _without_env_overrides(data: dict[str, Any], env: dict[str, str], prefix: str = "GUILDHALL_") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        var = f"{prefix}{key.upper()}"
        if var in env:
            continue
        if isinstance(value, dict):
            nested = _without_env_overrides(value, env, f"{var}__")
            if nested:
                out[key] = nested
        else:
            out[key] = value
    return out
