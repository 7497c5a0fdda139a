"""Settings come from the environment, and the README documents every one of them."""

from __future__ import annotations

import pytest

from lib.core import config
from lib.providers import registry
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_defaults_when_nothing_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    s = config.load()
    assert s.data_dir.name == "data" and s.storage == "local"
    assert s.workers == 4 and s.sandbox_latency == 1.5
    assert s.max_upload_bytes == 25 * 1024 * 1024


def test_a_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTBOARD_WORKERS", "many")
    with pytest.raises(ValueError, match="PROMPTBOARD_WORKERS must be a whole number"):
        config.load()


def test_no_dashboard_workers_is_refused_on_the_embedded_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMPTBOARD_WORKERS", "0")
    with pytest.raises(ValueError, match="only a PostgreSQL database allows"):
        config.load()
    monkeypatch.setenv("PROMPTBOARD_DATABASE_URL", "postgresql://u@127.0.0.1/db")
    assert config.load().workers == 0


@pytest.mark.parametrize("name", sorted(config.VARIABLES))
def test_every_setting_is_documented_in_the_readme(name: str) -> None:
    default = config.VARIABLES[name][0]
    shown = f"`{default}`" if default else "unset"
    assert f"| `{name}` | {shown} |" in README


@pytest.mark.parametrize("provider_id", sorted(registry.PROVIDERS))
def test_every_provider_is_documented_in_the_readme(provider_id: str) -> None:
    cls = registry.get(provider_id)
    assert f"| `{provider_id}` |" in README
    if cls.key_env:
        assert cls.key_env in README


def test_compatible_endpoints_are_documented_in_the_readme() -> None:
    """Their ids come from configuration (``compat-<name>``), so one row stands for all,
    and the README's example configures without a problem."""
    from lib.providers import endpoints

    assert "| `compat-<name>` |" in README
    assert "PROMPTBOARD_ENDPOINTS_FILE" in README and "### OpenAI-compatible endpoints" in README
    example = README.split("### OpenAI-compatible endpoints", 1)[1].split("```toml", 1)[1]
    found, problems = endpoints.parse(example.split("```", 1)[0], "README.md")
    assert problems == [] and [e.name for e in found] == ["azure-east", "xai", "litellm"]


def test_the_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    blocks = [b.strip() for b in quick.split("```bash")[1:]]
    run_cmd, test_cmd = (b.split("```")[0].strip() for b in blocks[:2])
    assert "requirements.txt" in run_cmd and "streamlit run serve.py" in run_cmd
    assert (ROOT / "serve.py").is_file()
    assert test_cmd == "bash scripts/test.sh"
    assert test_cmd in (ROOT / ".ci" / "run").read_text()
