"""The harness's aggregation on tiny hand-made records: stage timings, seeds, mean ± std, tables, the plot."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from evokd.baselines import students
from evokd.bench import run
from evokd.bench.methods import ABLATIONS, BASELINES
from evokd.bench.run import method_seconds, pending_runs, resumable_records, setup_line, stage_seconds
from evokd.bench.tables import aggregate, comparison_curves, equal_token_curve, markdown, noise_rows, plot
from evokd.errors import EvokdError
from evokd.io import atomic_write_json
from evokd.params import load_params

REPO = Path(__file__).resolve().parents[2]


def record(method: str, seed: int, score: float, tokens: int = 0, wall: float | None = 10.0, **extra) -> dict:
    return {"method": method, "seed": seed, "score": score, "teacher_tokens": tokens, "wall_s": wall, **extra}


def noise(requested: int, labelled: int, disagreements: int, rejected: int, fooled: list[float] | None = None
          ) -> dict:
    return {"requested": requested, "labelled": labelled, "disagreements": disagreements, "rejected": rejected,
            "label_counts": {"fresh": labelled - disagreements, "rotten": disagreements},
            **({"fooled_rate": fooled} if fooled else {})}


def curve(*points: tuple[int, float]) -> list[dict]:
    return [{"round": f"r{index:02d}", "teacher_tokens": tokens, "score": score}
            for index, (tokens, score) in enumerate(points)]


RECORDS = [
    record("evokd", 1, 0.60, 300, 100.0, curve=curve((100, 0.4), (300, 0.6)),
           diagnostics=noise(20, 16, 4, 4, [0.5, 0.25])),
    record("evokd", 2, 0.70, 340, 120.0, curve=curve((120, 0.5), (340, 0.7)),
           diagnostics=noise(20, 18, 2, 2, [0.3, 0.75])),
    record("static", 1, 0.50, 310, 50.0, curve=curve((110, 0.45), (310, 0.5)),
           diagnostics=noise(30, 30, 9, 0)),
    record("static", 2, 0.60, 350, 70.0, curve=curve((125, 0.55), (350, 0.6)),
           diagnostics=noise(30, 30, 3, 0)),
    record("fullshot", 1, 0.80), record("fullshot", 2, 0.90),
    record("seeds", 2, 0.40), record("seeds", 1, 0.30),
    record("no_review", 1, 0.55, 300, 90.0),
    record("teacher", 1, 0.66, 5000, inputs=50, tokens_per_1000_inputs=100000),
]


def test_stage_seconds_from_dvc_log_lines():
    lines = [(0.0, "Stage 'prepare' didn't change, skipping"), (1.0, "Running stage 'bootstrap':"),
             (1.5, "> python stages/bootstrap.py"), (31.0, "Running stage 'train@r01':"),
             (40.0, "Stage 'benchmarks/dvc.yaml:static' is cached - skipping run, checking out outputs"),
             (41.0, "Running stage 'benchmarks/dvc.yaml:teacher':")]
    stages = stage_seconds(lines, end=50.0)
    assert stages == {"prepare": 1.0, "bootstrap": 30.0, "train@r01": 9.0, "benchmarks/dvc.yaml:static": 1.0,
                      "benchmarks/dvc.yaml:teacher": 9.0}
    assert method_seconds(stages) == {"evokd": 39.0, "static": 1.0, "teacher": 9.0}
    assert method_seconds({"bootstrap": 5.0, "report": 1.0}, loop_method="no_easy") == {"no_easy": 6.0}


def test_aggregate_means_stds_seeds_and_ratio_to_fullshot():
    rows = {row["method"]: row for row in aggregate(RECORDS)}
    assert list(rows) == ["evokd", "no_review", "static", "seeds", "teacher", "fullshot"]
    assert rows["evokd"]["score_mean"] == pytest.approx(0.65)
    assert rows["evokd"]["score_std"] == pytest.approx(0.0707107, rel=1e-5)  # sample std of 0.6, 0.7
    assert rows["evokd"]["ratio_to_fullshot"] == pytest.approx(0.65 / 0.85)
    assert rows["evokd"]["teacher_tokens_mean"] == 320 and rows["evokd"]["wall_s_mean"] == 110
    assert rows["seeds"]["seeds"] == [1, 2] and rows["fullshot"]["ratio_to_fullshot"] == pytest.approx(1.0)
    assert rows["no_review"]["score_std"] is None  # one seed: no spread to report
    assert rows["no_review"]["label"] == "EvoKD w/o review (replay)"


def test_aggregate_without_fullshot_has_no_ratio():
    assert aggregate([record("evokd", 1, 0.5)])[0]["ratio_to_fullshot"] is None


def test_equal_token_curve_pairs_evokd_and_static_by_round_over_seeds():
    rows = equal_token_curve(RECORDS)
    assert [row["round"] for row in rows] == ["r00", "r01"] and all(row["seeds"] == 2 for row in rows)
    assert rows[1]["evokd_tokens"] == 320 and rows[1]["static_tokens"] == 330
    assert rows[0]["evokd_score"] == pytest.approx(0.45) and rows[1]["static_score"] == pytest.approx(0.55)
    assert equal_token_curve([r for r in RECORDS if r["method"] != "static"]) == []


def test_noise_rows_sum_over_seeds_and_average_fooled_rate_by_round():
    rows = {row["method"]: row for row in noise_rows(RECORDS)}
    assert set(rows) == {"evokd", "static"}
    assert rows["evokd"]["disagreement_rate"] == pytest.approx(6 / 34)
    assert rows["evokd"]["rejection_rate"] == pytest.approx(6 / 40)
    assert rows["evokd"]["fooled_rate_by_round"] == pytest.approx([0.4, 0.5])
    assert rows["static"]["disagreement_rate"] == pytest.approx(12 / 60)
    assert rows["static"]["fooled_rate_by_round"] is None
    assert (rows["evokd"]["top_label"], rows["evokd"]["top_label_share"]) == ("fresh", pytest.approx(28 / 34))


def report_of(records: list[dict]) -> dict:
    return {"benchmark": "rotten_tomatoes", "shots": 1, "seeds": [1, 2], "command": "evokd bench --seeds 1,2",
            "setup": "tiny", "baselines": list(BASELINES), "metric": "macro_f1", "records": records,
            "summary": aggregate(records),
            "equal_tokens": equal_token_curve(records), "noise": noise_rows(records)}


def test_markdown_table_lists_every_method_with_its_numbers():
    text = markdown(report_of(RECORDS))
    assert "Command: `evokd bench --seeds 1,2`" in text
    assert "| EvoKD | 2 | 0.650 ± 0.071 | 0.76 | 320 | 110 |" in text
    assert "| EvoKD w/o review (replay) | 1 | 0.550 | 0.65 | 300 | 90 |" in text
    assert "| r01 | 2 | 320 | 0.650 | 330 | 0.550 |" in text
    assert "| Static (ZeroGen-style) | 60 | 60 | 0.20 | fresh (0.80) | 0.00 | – |" in text
    assert "| EvoKD | 40 | 34 | 0.18 | fresh (0.82) | 0.15 | 0.40, 0.50 |" in text
    assert "100,000 per 1,000 inputs" in text
    assert "| Seeds only | 0.300 | 0.400 |" in text and "| EvoKD w/o review (replay) | 0.550 | – |" in text


def test_plot_writes_a_png(tmp_path: Path):
    path = tmp_path / "plot.png"
    plot(report_of(RECORDS), RECORDS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pending_runs_puts_main_runs_first_and_skips_finished_experiments():
    variants = len(ABLATIONS)
    assert pending_runs([1, 2], [], []) == [(1, "main"), (2, "main")]
    everything = pending_runs([1, 2], [1, 2], [])
    assert everything[:2] == [(1, "main"), (2, "main")] and (2, "init") in everything
    assert len(everything) == 2 + 2 * variants and everything[2:2 + variants] == [(1, name) for name in ABLATIONS]
    assert pending_runs([1, 2], [2], []) == [(1, "main"), (2, "main"), *((2, name) for name in ABLATIONS)]
    # seed 1's main run (EvoKD + baselines) and its review ablation are done; nothing else is
    left = pending_runs([1, 2], [1, 2], [r for r in RECORDS if r["seed"] == 1])
    assert (1, "main") not in left and (1, "no_review") not in left and (2, "main") in left
    assert len(left) == 1 + 2 * variants - 1


def test_pending_runs_takes_a_subset_of_variants_in_the_order_given():
    done = [r for r in RECORDS if r["seed"] == 1]  # seed 1's main run and its no_review ablation
    assert pending_runs([1], [1], done, ["init", "no_review", "soft"]) == [(1, "init"), (1, "soft")]


def test_resume_keeps_records_of_the_same_setup_only(tmp_path: Path):
    path = tmp_path / "rotten_tomatoes.json"
    assert resumable_records(path, report_of([])) == []
    atomic_write_json(path, report_of(RECORDS))
    assert resumable_records(path, report_of([])) == RECORDS
    with pytest.raises(EvokdError, match="cannot resume, its setup"):
        resumable_records(path, {**report_of([]), "setup": "bigger"})
    with pytest.raises(EvokdError, match="cannot resume, its baselines"):
        resumable_records(path, {**report_of([]), "baselines": ["static"]})
    old = {key: value for key, value in report_of(RECORDS).items() if key != "baselines"}  # before --baselines
    atomic_write_json(path, old)
    assert resumable_records(path, report_of([])) == RECORDS


def test_setup_names_the_student_target_so_a_soft_bench_cannot_resume_as_hard(tmp_path: Path):
    params = load_params(REPO / "params.yaml")
    soft, hard = (params.model_copy(update={"student": params.student.model_copy(update={"target": target})})
                  for target in ("soft", "hard"))
    hard_setup, soft_setup = setup_line(hard, None), setup_line(soft, None)
    assert "hard targets" in hard_setup and "soft targets" in soft_setup
    assert f"calibration {params.loop.calibration}" in hard_setup
    unselected = params.model_copy(update={"loop": params.loop.model_copy(update={"select_factor": 1})})
    assert setup_line(unselected, None) != hard_setup and "1 candidates per input" in setup_line(unselected, None)
    fast_head = params.model_copy(update={"student": params.student.model_copy(update={"head_learning_rate": 1e-3})})
    assert "head auto" in hard_setup and "head 0.001" in setup_line(fast_head, None)  # banking77 benches differ by it
    picking = params.model_copy(update={"loop": params.loop.model_copy(update={"shortlist": 0,
                                                                               "disagreement": "keep_teacher"})})
    assert "label shortlist 8, disagreement auto" in hard_setup  # how banking77's labels come about
    assert "label shortlist 0, disagreement keep_teacher" in setup_line(picking, None)
    path = tmp_path / "rotten_tomatoes.json"
    atomic_write_json(path, {**report_of(RECORDS), "setup": soft_setup})
    with pytest.raises(EvokdError, match="cannot resume, its setup is .*soft targets"):
        resumable_records(path, {**report_of([]), "setup": hard_setup})


def test_bench_with_fewer_baselines_runs_only_their_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`--baselines static,seeds_rounds`: the main run targets those stages and the loop's report, and only they
    are read and reported; params.yaml is as it was afterwards."""
    from evokd.teacher import server

    params = Path(__file__).resolve().parents[2] / "params.yaml"
    (tmp_path / "params.yaml").write_text(params.read_text(encoding="utf-8"), encoding="utf-8")
    targets: list[list[str]] = []
    monkeypatch.setattr(server, "is_serving", lambda config: True)
    monkeypatch.setattr(server, "ensure_server", lambda config: None)
    monkeypatch.setattr(run, "run_experiment", lambda repo, name, overrides, names, log: targets.append(names) or {})
    monkeypatch.setattr(run, "evokd_result", lambda repo: {"metric": "macro_f1", "score": 0.6, "teacher_tokens": 300,
                                                               "curve": curve((100, 0.4), (300, 0.6))})
    read: list[str] = []
    monkeypatch.setattr(run, "baseline_result", lambda repo, name: read.append(name) or record(
        name, 1, 0.5, curve=curve((100, 0.4), (300, 0.5))))
    report = run.run_bench(tmp_path, "rotten_tomatoes", 1, [1], None, [], tmp_path / "out", "evokd bench (test)",
                           baselines=["static", "seeds_rounds"])
    assert targets == [run.main_targets(["seeds_rounds", "static"])]
    assert read == ["seeds_rounds", "static"] and report["baselines"] == ["seeds_rounds", "static"]
    assert {r["method"] for r in report["records"]} == {"evokd", "seeds_rounds", "static"}
    assert (tmp_path / "params.yaml").read_text(encoding="utf-8") == params.read_text(encoding="utf-8")


def upstream_stages(target: str) -> set[str]:
    """The stages `dvc repro TARGET` would run in this repository, as DVC itself resolves them."""
    dot = subprocess.run(["dvc", "dag", "--dot", target], cwd=REPO, capture_output=True, text=True, check=True)
    return set(re.findall(r'^"([^"]+)";$', dot.stdout, flags=re.MULTILINE))


def test_bench_runs_the_variants_given_with_their_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`run_bench(..., variants=["no_review"])` runs the main experiment, then that ablation with its `-S` value, and
    records it under its own name (the default takes every ablation, read when called, not when defined)."""
    from evokd.teacher import server

    params = Path(__file__).resolve().parents[2] / "params.yaml"
    (tmp_path / "params.yaml").write_text(params.read_text(encoding="utf-8"), encoding="utf-8")
    runs: list[dict] = []
    monkeypatch.setattr(server, "is_serving", lambda config: True)
    monkeypatch.setattr(server, "ensure_server", lambda config: None)
    monkeypatch.setattr(run, "run_experiment", lambda repo, name, overrides, names, log: runs.append(overrides) or {})
    monkeypatch.setattr(run, "evokd_result", lambda repo: {"metric": "macro_f1", "score": 0.6, "teacher_tokens": 300,
                                                               "curve": curve((100, 0.4), (300, 0.6))})
    monkeypatch.setattr(run, "baseline_result",
                        lambda repo, name: record(name, 1, 0.5, curve=curve((100, 0.4), (300, 0.5))))
    report = run.run_bench(tmp_path, "rotten_tomatoes", 1, [1], None, [1], tmp_path / "out", "evokd bench (test)",
                           baselines=["static"], variants=["no_review"])
    _, key, value = ABLATIONS["no_review"]
    assert [overrides.get(key) for overrides in runs] == [None, value]
    assert [r["method"] for r in report["records"]] == ["evokd", "static", "no_review"]


def test_fewer_baselines_make_dvc_run_the_loop_and_only_those_baselines():
    """Asked of DVC, not of our code: a target that depends on all of metrics/baselines (`compare`) would run
    every baseline, which is what --baselines is there to avoid."""
    stages = set().union(*(upstream_stages(target) for target in run.main_targets(["seeds", "static"])))
    assert {"prepare", "bootstrap", "report"} <= stages  # report depends on every round's stages
    assert {stage for stage in stages if stage.startswith("benchmarks/")} == {
        "benchmarks/dvc.yaml:seeds", "benchmarks/dvc.yaml:static"}
    assert "benchmarks/dvc.yaml:fullshot" in upstream_stages(run.main_targets(list(BASELINES))[0])


def test_comparison_curves_put_baselines_next_to_evokd():
    by_round = [{"round": "r00", "step": 0, "score": 0.5}, {"round": "r01", "step": 1, "score": 0.6}]
    by_tokens = [{"round": "r00", "teacher_tokens": 100, "score": 0.5}, {"round": "r01", "teacher_tokens": 250,
                                                                         "score": 0.6}]
    baselines = {"static": {"score": 0.55, "teacher_tokens": 260, "curve": curve((110, 0.45), (260, 0.55))},
                 "auggpt": {"score": 0.52, "teacher_tokens": 240}, "fullshot": {"score": 0.9, "teacher_tokens": 0},
                 "seeds_rounds": {"score": 0.58, "teacher_tokens": 0,
                                  "curve": [{"round": "r00", "score": 0.5}, {"round": "r01", "score": 0.58}]}}
    curves = comparison_curves(by_round, by_tokens, baselines)
    lines = {}
    for row in curves["score_by_round"]:
        lines.setdefault(row["method"], []).append((row["round"], row["score"]))
    assert lines == {"EvoKD": [(0, 0.5), (1, 0.6)], "Static (ZeroGen-style)": [(0, 0.45), (1, 0.55)],
                     "AugGPT": [(0, 0.52), (1, 0.52)], "Full-shot student (upper bound)": [(0, 0.9), (1, 0.9)],
                     "Seeds only, retrained each round": [(0, 0.5), (1, 0.58)]}
    points = {(row["method"], row["teacher_tokens"], row["score"]) for row in curves["score_by_tokens"]}
    assert points == {("EvoKD", 100, 0.5), ("EvoKD", 250, 0.6), ("Static (ZeroGen-style)", 110, 0.45),
                      ("Static (ZeroGen-style)", 260, 0.55), ("AugGPT", 240, 0.52)}
    # a static curve that does not match the rounds (another run's) is left off the by-round plot
    mismatched = comparison_curves(by_round[:1], by_tokens[:1], {"static": baselines["static"]})
    assert {row["method"] for row in mismatched["score_by_round"]} == {"EvoKD"}


def test_seeds_each_round_trains_on_from_the_previous_checkpoint(monkeypatch: pytest.MonkeyPatch):
    calls = []

    def fake_train(task, samples, test, student, out_dir, init_from, seed):
        calls.append((list(samples), out_dir.name, init_from.name if init_from else None, seed))
        return {"test": {"score": len(calls) / 4}}

    monkeypatch.setattr(students, "train_and_evaluate", fake_train)
    seeds = ["seed-a", "seed-b"]
    curve = students.seeds_each_round(None, seeds, [], None, 7, ["r01", "r02"])
    assert calls == [(seeds, "r00", None, 7), (seeds, "r01", "r00", 7), (seeds, "r02", "r01", 7)]
    assert [(point["round"], point["score"]) for point in curve] == [("r00", 0.25), ("r01", 0.5), ("r02", 0.75)]


def test_every_variant_turns_its_param_away_from_the_default():
    """A variant equal to the default (as `select` became when `select_factor: 3` did) would rerun the main
    experiment under another name."""
    params = load_params(REPO / "params.yaml")
    for name, (_, key, value) in ABLATIONS.items():
        section, field = key.split(".")
        assert getattr(getattr(params, section), field) != value, name


def test_disagreement_rate_counts_the_inputs_a_disagreement_dropped():
    """Under `disagreement: drop` the teacher read 12 inputs, kept the 4 it agreed on: 8 of 12, never 8 of 4."""
    dropped = {**noise(requested=12, labelled=4, disagreements=8, rejected=8), "dropped": 8,
               "label_counts": {"fresh": 4}}
    rows = noise_rows([{"method": "evokd", "seed": 1, "score": 0.5, "diagnostics": dropped}])
    assert rows[0]["disagreement_rate"] == pytest.approx(8 / 12) and rows[0]["labelled"] == 4
