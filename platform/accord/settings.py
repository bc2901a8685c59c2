"""Configuration from the environment (``ACCORD_*`` variables), with pydantic-settings.

>>> from accord.settings import Settings
>>> Settings(database_url="sqlite:///x.db").database_url
'sqlite:///x.db'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./accord.db",
        description="SQLAlchemy URL of the preference store. SQLite file by default; "
        "postgresql+psycopg://user:pass@host/db in production.",
    )
    home: Path = Field(
        default=Path(".accord"),
        description="Working folder for caches, tiny models, reports and run artifacts.",
    )
    echo_sql: bool = Field(default=False, description="Log every SQL statement.")
    auto_migrate: bool = Field(
        default=True, description="Apply pending migrations when the store is first opened."
    )
    webhook_secret: str | None = Field(
        default=None, description="Argilla webhook secret (whsec_...) used to verify deliveries."
    )
    max_text_chars: int = Field(default=200_000, description="Longest text the API accepts.")
    max_page_size: int = Field(default=1000, description="Largest page the API returns.")

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"


@lru_cache
def get_settings() -> Settings:
    return Settings()
