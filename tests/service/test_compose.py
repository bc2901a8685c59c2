"""docker-compose.yml checked without a Docker daemon: the compose schema and variables by
Debian's ``docker-compose config``, plus accord's own rules (services present, images
pinned, health checks, volumes, no secret written in the file)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SERVICES = {
    "postgres",
    "elasticsearch",
    "redis",
    "argilla",
    "argilla-worker",
    "accord-api",
    "accord-worker",
    "vllm",
}
STATEFUL = {
    "postgres": "/var/lib/postgresql/data",
    "elasticsearch": "/usr/share/elasticsearch/data",
    "redis": "/data",
    "argilla": "/var/lib/argilla",
    "accord-api": "/data",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN", re.IGNORECASE)
VARIABLE = re.compile(r"^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def docker_compose(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTGRES_", "ARGILLA_", "ACCORD_", "VLLM_"))
    }
    return subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), *args],
        check=False,
        cwd=ROOT,
        text=True,
        capture_output=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


def test_compose_config_is_valid_with_the_example_env():
    result = docker_compose("--env-file", str(ENV_EXAMPLE), "--profile", "gpu", "config")
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == SERVICES
    api_env = rendered["services"]["accord-api"]["environment"]
    assert api_env["ACCORD_DATABASE_URL"].startswith("postgresql+psycopg://accord:")
    assert rendered["services"]["vllm"]["profiles"] == ["gpu"]
    assert api_env["ACCORD_ARGILLA_PULL_CONFIG"] == '{"dataset": "preferences"}'


def test_missing_secrets_are_refused_by_name(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = docker_compose("--env-file", str(empty), "config", "-q")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr or "ARGILLA" in result.stderr


def test_every_service_has_a_pinned_image_and_a_health_check(compose):
    assert set(compose["services"]) == SERVICES
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert re.search(r":[\w.-]+$", image), f"{name}: image {image!r} has no tag"
        assert not image.endswith(":latest"), f"{name}: image {image!r} is not pinned"
        assert service.get("healthcheck", {}).get("test"), f"{name}: no health check"
        assert service.get("restart") == "unless-stopped", name


def test_stateful_services_keep_data_in_named_volumes(compose):
    for name, path in STATEFUL.items():
        mounts = compose["services"][name].get("volumes", [])
        named = [m for m in mounts if m.split(":")[0] in compose["volumes"]]
        assert any(m.split(":")[1] == path for m in named), f"{name}: {path} not on a volume"


def test_gpu_profile_for_vllm(compose):
    vllm = compose["services"]["vllm"]
    assert vllm["profiles"] == ["gpu"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def _environment_items(compose):
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            yield name, key, "" if value is None else str(value)
    for anchor in ("x-accord-env", "x-argilla-env"):
        for key, value in compose[anchor].items():
            yield anchor, key, str(value)


def test_no_secret_is_written_in_the_file(compose):
    for owner, key, value in _environment_items(compose):
        if SECRET_NAME.search(key):
            assert VARIABLE.match(value), f"{owner}: {key} must come from .env, not {value!r}"
        assert not re.search(r"://[^:/@\s]+:(?!\$\{)[^@\s]+@", value), (
            f"{owner}: {key} has a password written into a URL"
        )
    for service in compose["services"].values():
        command = " ".join(
            service.get("command", [])
            if isinstance(service.get("command"), list)
            else [service.get("command") or ""]
        )
        assert not re.search(r"--api-key\s+(?!\$\{)", command)


def test_env_example_names_every_required_variable():
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    example = dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example), f"missing from .env.example: {required - set(example)}"
    for name in required:
        assert "CHANGE-ME" in example[name] or not SECRET_NAME.search(name), name


def test_dockerfile_pins_its_base_and_runs_the_service_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.MULTILINE).group(1)
    assert re.search(r":\d+\.\d+\.\d+", base), base
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/api/health" in text
    assert not SECRET_NAME.search(" ".join(re.findall(r"^ENV .*", text, re.MULTILINE)))
