"""One settings object, read from PRESSWATCH_* environment variables (and `.env`) when a command or flow starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = PROJECT_ROOT / "seeds"


class Settings(BaseSettings):
    """Everything a pass needs to know; command-line options override these values."""

    model_config = SettingsConfigDict(env_prefix="PRESSWATCH_", env_file=".env", extra="ignore")

    database_url: SecretStr = Field(
        default=SecretStr("sqlite:///data/presswatch.db"),
        description="SQLAlchemy URL of presswatch's database (SQLite file or postgresql+psycopg://...).",
    )
    feeds_file: Path = Field(default=SEEDS_DIR / "feeds.yaml", description="YAML file listing the feeds to watch.")
    watchlist_file: Path = Field(default=SEEDS_DIR / "watchlist.yaml", description="YAML file of watched entities.")
    topics_file: Path = Field(default=SEEDS_DIR / "topics.yaml", description="YAML file of topic rules.")
    spacy_model: str = Field(
        default="", description="A statistical spaCy pipeline with `ner` (e.g. en_core_web_sm) to discover names."
    )
    user_agent: str = "presswatch/0.1 (media monitoring; +https://github.com/presswatch/presswatch)"
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=20.0, gt=0)
    total_timeout: float = Field(default=60.0, gt=0)
    max_bytes: int = Field(default=10_000_000, gt=0, description="Cap on a response body, enforced while streaming.")
    max_redirects: int = Field(default=5, ge=0)
    allowed_networks: str = Field(
        default="",
        description="Comma-separated networks (e.g. 127.0.0.0/8) links may point into; other private ones are refused.",
    )
    batch_size: int = Field(default=25, ge=1, le=1000, description="Links handled by one task run.")
    workers: int = Field(default=2, ge=1, le=64, description="Processes that extract and tag in parallel.")
    webhook_url: SecretStr | None = Field(
        default=None, description="Where spike alerts are posted as JSON (masked in every output)."
    )
    monitor_interval_seconds: int = Field(
        default=900, ge=10, le=86400, description="Seconds between runs of the monitor-feeds deployment."
    )
    alerts_cron: str = Field(default="0 7 * * *", description="When the spike-alerts deployment runs (cron, UTC).")
    serve_limit: int = Field(default=4, ge=1, le=64, description="Flow runs `presswatch serve` executes at once.")
    per_host_delay: float = Field(default=0.0, ge=0, description="Minimum seconds between two requests to one host.")

    def allowed_network_list(self) -> tuple[str, ...]:
        """The extra allowed networks as a tuple of CIDR strings."""
        return tuple(part.strip() for part in self.allowed_networks.split(",") if part.strip())


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with the given non-None overrides applied on top."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
