"""`evokd export`: the synthetic dataset as JSONL + parquet + a dataset card, gold samples left out, atomic."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from evokd.benchmarks import task_spec
from evokd.cli import cli
from evokd.data import ClassificationSample, NerSample, Provenance, Span, save_task, write_samples
from evokd.export import CARD, JSONL, PARQUET, export_dataset


def teacher(intent: str, key: str) -> Provenance:
    return Provenance(origin="teacher", teacher_model="bundled:tiny", prompt_set="default", request_key=key,
                      intent=intent)


SEED = ClassificationSample(text="A gold seed review.", label="fresh")
INIT = ClassificationSample(text="A gold seed, paraphrased.", label="fresh", round="r00",
                            provenance=Provenance(origin="init", teacher_model="bundled:tiny", request_key="k0"))
SCORED = ClassificationSample(text="Warm and funny.", label="fresh", probs={"fresh": 0.8, "rotten": 0.2},
                              confidence=0.8, round="r00", stance="hard", provenance=teacher("fresh", "k1"))
PROPOSED = ClassificationSample(text="Dull and long.", label="rotten", round="r01", stance="easy",
                                provenance=teacher("rotten", "k2"))
SCORED_R01 = ClassificationSample(text="A mess of a film.", label="rotten", probs={"fresh": 0.3, "rotten": 0.7},
                                  confidence=0.7, round="r01", stance="hard", provenance=teacher("fresh", "k3"))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A task and two round folders; the final pool holds a gold seed, a seed's paraphrase, three teacher samples."""
    save_task(tmp_path / "task.yaml", task_spec("rotten_tomatoes"))
    write_samples(tmp_path / "rounds" / "r00" / "pool.jsonl", [SEED, SCORED])
    write_samples(tmp_path / "rounds" / "r01" / "pool.jsonl", [SEED, INIT, SCORED, PROPOSED, SCORED_R01])
    return tmp_path


def export_args(run_dir: Path, *extra: str) -> list[str]:
    return ["export", "--task", str(run_dir / "task.yaml"), "--rounds-dir", str(run_dir / "rounds"),
            "--out", str(run_dir / "export"), *extra]


def test_export_writes_teacher_samples_only_with_provenance_columns(run_dir: Path) -> None:
    shown = CliRunner().invoke(cli, export_args(run_dir))
    assert shown.exit_code == 0, shown.output
    assert "4 synthetic samples from 2 rounds" in shown.output
    out = run_dir / "export"
    assert sorted(path.name for path in out.iterdir()) == sorted([JSONL, PARQUET, CARD])
    frame = pd.read_json(out / JSONL, lines=True)
    assert frame["text"].tolist() == [INIT.text, SCORED.text, PROPOSED.text, SCORED_R01.text]  # the seed is left out
    assert frame["origin"].tolist() == ["init", "teacher", "teacher", "teacher"]
    assert frame["round"].tolist() == ["r00", "r00", "r01", "r01"]
    assert frame["stance"].tolist()[1:] == ["hard", "easy", "hard"] and pd.isna(frame["stance"][0])
    assert frame["intent"].tolist()[1:] == ["fresh", "rotten", "fresh"]
    assert frame["request_key"].tolist() == ["k0", "k1", "k2", "k3"]
    assert set(frame["teacher_model"]) == {"bundled:tiny"} and "provenance" not in frame.columns
    parquet = pd.read_parquet(out / PARQUET)
    assert parquet.columns.tolist() == frame.columns.tolist()
    assert parquet["text"].tolist() == frame["text"].tolist()
    assert parquet["probs"][1] == {"fresh": 0.8, "rotten": 0.2} and parquet["probs"][2] is None
    assert parquet["confidence"][1] == pytest.approx(0.8) and pd.isna(parquet["confidence"][2])


def test_export_reads_the_named_round(run_dir: Path) -> None:
    shown = CliRunner().invoke(cli, export_args(run_dir, "--round", "r00"))
    assert shown.exit_code == 0, shown.output
    assert pd.read_json(run_dir / "export" / JSONL, lines=True)["text"].tolist() == [SCORED.text]  # r00's pool


def test_dataset_card_counts_rounds_stances_and_labels(run_dir: Path) -> None:
    assert CliRunner().invoke(cli, export_args(run_dir)).exit_code == 0
    card = (run_dir / "export" / CARD).read_text()
    assert card.startswith("---\n") and f"data_files: {PARQUET}" in card and "text-classification" in card
    assert "| round | easy | hard | init | total |" in card
    assert "| r00 | 0 | 1 | 1 | 2 |" in card and "| r01 | 1 | 1 | 0 | 2 |" in card
    assert re.search(r"^\| fresh \| .+ \| 2 \|$", card, re.M) and re.search(r"^\| rotten \| .+ \| 2 \|$", card, re.M)
    assert "2 of 4 samples were labelled in a separate call by scoring" in card
    assert "`bundled:tiny`" in card and "Licence" in card and "load_dataset(\"parquet\"" in card


def test_datasets_loads_both_files_as_they_are(run_dir: Path) -> None:
    datasets = pytest.importorskip("datasets")
    assert CliRunner().invoke(cli, export_args(run_dir)).exit_code == 0
    out = run_dir / "export"
    for builder, name in (("json", JSONL), ("parquet", PARQUET)):
        loaded = datasets.load_dataset(builder, data_files=str(out / name), split="train",
                                       cache_dir=str(run_dir / "hf-cache"))
        assert loaded["text"] == [INIT.text, SCORED.text, PROPOSED.text, SCORED_R01.text], builder
        assert loaded[1]["probs"] == {"fresh": 0.8, "rotten": 0.2} and loaded[2]["probs"] is None


def test_ner_export_keeps_tokens_tags_and_spans(tmp_path: Path) -> None:
    task = task_spec("conll2003")
    sample = NerSample(tokens=["Ann", "Lee", "visited", "Paris", "."], tags=["B-PER", "I-PER", "O", "B-LOC", "O"],
                       text="Ann Lee visited Paris.", spans=[Span(text="Ann Lee", type="PER"),
                                                             Span(text="Paris", type="LOC")],
                       round="r01", stance="hard", provenance=teacher("PER", "k9"))
    counts = export_dataset(task, [sample], tmp_path / "export")
    assert counts["labels"] == {"PER": 1, "LOC": 1} and counts["rounds"] == {"r01": {"hard": 1}}
    frame = pd.read_parquet(tmp_path / "export" / PARQUET)
    assert list(frame["tokens"][0]) == sample.tokens and list(frame["tags"][0]) == sample.tags
    assert [dict(span) for span in frame["spans"][0]] == [{"text": "Ann Lee", "type": "PER"},
                                                         {"text": "Paris", "type": "LOC"}]
    assert "token-classification" in (tmp_path / "export" / CARD).read_text()


def test_bad_pool_line_is_one_error_and_the_old_export_stays(run_dir: Path) -> None:
    assert CliRunner().invoke(cli, export_args(run_dir)).exit_code == 0
    before = {path.name: path.read_bytes() for path in (run_dir / "export").iterdir()}
    pool = run_dir / "rounds" / "r01" / "pool.jsonl"
    pool.write_text(pool.read_text() + json.dumps({"text": "x", "label": "meh"}) + "\n")
    result = subprocess.run([sys.executable, "-m", "evokd.cli", *export_args(run_dir)], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert f"{pool}, line 6, field 'label': unknown label 'meh'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert {path.name: path.read_bytes() for path in (run_dir / "export").iterdir()} == before


def test_missing_round_names_the_pool(run_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "evokd.cli", *export_args(run_dir, "--round", "r07")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and f"{run_dir / 'rounds' / 'r07' / 'pool.jsonl'}: file not found" in result.stderr
    assert not (run_dir / "export").exists()

