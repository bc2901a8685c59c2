"""bench/gpu/report.py: the figures JSON becomes README's GPU table, and only the marked
section of the README changes."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from .conftest import GPU, ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", GPU / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


report = load("report")


def test_readme_has_exactly_one_gpu_section():
    text = (ROOT / "README.md").read_text()
    assert text.count(report.START) == 1 and text.count(report.END) == 1
    assert text.index(report.START) > text.index("## Benchmarks")


def test_replace_section_changes_only_the_marked_part(tmp_path):
    readme = f"# x\n\nbefore\n{report.START}\nold table\n{report.END}\nafter\n"
    figures = {"machine": {"date": "2026-12-04 10:00 UTC", "gpu": "NVIDIA H200"}, "phases": {}}
    new = report.replace_section(readme, report.markdown(figures))
    assert new.startswith("# x\n\nbefore\n") and new.endswith(f"{report.END}\nafter\n")
    assert "old table" not in new and "NVIDIA H200" in new and "2026-12-04 10:00 UTC" in new
    path, out = tmp_path / "figures.json", tmp_path / "README.md"
    path.write_text(json.dumps(figures))
    out.write_text(readme)
    assert report.main([str(path), "--readme", str(out)]) == 0
    assert out.read_text() == new


def test_readme_without_markers_is_refused():
    with pytest.raises(ValueError, match="gpu-figures"):
        report.replace_section("# no markers\n", "table\n")


def test_a_file_that_is_not_figures_names_itself(tmp_path):
    bad = tmp_path / "figures.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match="figures.json: not a figures file"):
        report.main([str(bad)])


def test_errors_and_killed_phases_are_listed_not_hidden():
    figures = {
        "machine": {"date": "d", "gpu": "NVIDIA H200"},
        "phases": {
            "ppo": {
                "status": "killed after its 130 s budget",
                "figures": {"ppo/trl112": {"error": "RuntimeError: trl 1.12 is not installed"}},
            }
        },
    }
    table = report.markdown(figures)
    assert "`ppo/trl112`: RuntimeError: trl 1.12 is not installed" in table
    assert "phase ppo: killed after its 130 s budget" in table


@pytest.mark.parametrize("name", ["plan", "shapes", "report"])
def test_module_examples_run(name):
    import doctest

    sys.path.insert(0, str(GPU))  # report's siblings import each other by name, as run.sh does
    try:
        result = doctest.testmod(load(name), raise_on_error=False)
    finally:
        sys.path.remove(str(GPU))
    assert result.attempted > 0 and result.failed == 0


def test_plan_rejects_a_budget_per_unknown_phase():
    plan = load("plan")
    with pytest.raises(ValueError, match="phase_caps_s"):
        plan.Plan(
            device="cpu", shapes=("dry-a",), train_shape="dry-a", phase_caps_s={"generation": 1}
        )
