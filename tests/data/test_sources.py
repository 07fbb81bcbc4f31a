"""A user's own task: every reader, its errors (file, line or row, column), the params that select the task, the
unlabelled pool (never a gold test text) and `evokd task init`."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from evokd.cli import cli
from evokd.data import load_task, read_samples
from evokd.errors import EvokdError, InputError
from evokd.params import NOT_GIVEN, Params, TaskParams, load_params
from evokd.sources import prepare_task, read_rows, read_task_samples, read_texts, scaffold_task, unlabelled_pool

SENTIMENT = {"name": "reviews", "kind": "classification", "domain": "film reviews",
             "labels": [{"name": "pos", "description": "a positive review"},
                        {"name": "neg", "description": "a negative review"}]}
NEWS = {"name": "news", "kind": "ner", "domain": "news",
        "labels": [{"name": "PER", "description": "people"}, {"name": "LOC", "description": "places"}]}
REVIEWS = [("A warm, funny film.", "pos"), ("Dull and far too long.", "neg"), ("Sharp, moving,\nand kind.", "pos")]
COLUMNS = {"text_column": "review", "label_column": "verdict"}


def own(tmp_path: Path, **slots: str) -> TaskParams:
    return TaskParams(file=str(tmp_path / "task.yaml"), **{"seeds": str(tmp_path / "seeds.jsonl"), **COLUMNS, **slots})


@pytest.fixture
def sentiment(tmp_path: Path):
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(SENTIMENT), encoding="utf-8")
    return load_task(tmp_path / "task.yaml")


def write_all_formats(folder: Path, rows: list[dict]) -> dict[str, Path]:
    frame = pd.DataFrame(rows)
    paths = {"jsonl": folder / "s.jsonl", "csv": folder / "s.csv", "tsv": folder / "s.tsv",
             "parquet": folder / "s.parquet", "saved": folder / "saved"}
    paths["jsonl"].write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    frame.to_csv(paths["csv"], index=False)
    frame.to_csv(paths["tsv"], index=False, sep="\t")
    frame.to_parquet(paths["parquet"])
    datasets.Dataset.from_list(rows).save_to_disk(str(paths["saved"]))
    return paths


@pytest.mark.parametrize("kind", ["jsonl", "csv", "tsv", "parquet", "saved"])
def test_every_format_gives_the_same_samples(tmp_path: Path, sentiment, kind: str) -> None:
    rows = [{"id": index, "review": text, "verdict": label} for index, (text, label) in enumerate(REVIEWS)]
    source = write_all_formats(tmp_path, rows)[kind]
    samples = read_task_samples(str(source), sentiment, own(tmp_path), "test", "gold")
    assert [(s.text, s.label, s.round, s.provenance.origin) for s in samples] == \
        [(t, v, "test", "gold") for t, v in REVIEWS]


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "saved"])
def test_ner_rows_with_token_and_tag_lists(tmp_path: Path, kind: str) -> None:
    rows = [{"words": ["Anna", "lives", "in", "Oslo"], "ner": ["B-PER", "O", "O", "B-LOC"]}]
    source = write_all_formats(tmp_path, rows)[kind]
    (tmp_path / "news.yaml").write_text(yaml.safe_dump(NEWS), encoding="utf-8")
    params = TaskParams(file=str(tmp_path / "news.yaml"), seeds=str(source), tokens_column="words", tags_column="ner")
    [sample] = read_task_samples(str(source), load_task(tmp_path / "news.yaml"), params, "seed", "seed")
    assert sample.tokens == rows[0]["words"] and sample.tags == rows[0]["ner"]


def test_ner_csv_has_space_separated_tokens_and_tags(tmp_path: Path) -> None:
    (tmp_path / "news.yaml").write_text(yaml.safe_dump(NEWS), encoding="utf-8")
    (tmp_path / "s.csv").write_text("tokens,tags\nAnna lives in Oslo,B-PER O O B-LOC\n", encoding="utf-8")
    params = TaskParams(file=str(tmp_path / "news.yaml"), seeds=str(tmp_path / "s.csv"))
    [sample] = read_task_samples(str(tmp_path / "s.csv"), load_task(tmp_path / "news.yaml"), params, "seed", "seed")
    assert sample.tags == ["B-PER", "O", "O", "B-LOC"]


def test_class_label_ids_of_a_saved_dataset_become_names(tmp_path: Path) -> None:
    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "tags": datasets.List(datasets.ClassLabel(names=["O", "B-PER", "B-LOC"]))})
    datasets.Dataset.from_dict({"tokens": [["Anna", "in", "Oslo"]], "tags": [[1, 0, 2]]},
                               features=features).save_to_disk(str(tmp_path / "saved"))
    assert read_rows(str(tmp_path / "saved"))[0].values["tags"] == ["B-PER", "O", "B-LOC"]


def test_a_dataset_dict_folder_asks_for_one_split(tmp_path: Path) -> None:
    split = datasets.Dataset.from_list([{"text": "x", "label": "pos"}])
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(tmp_path / "both"))
    with pytest.raises(InputError, match=r"holds the splits train, test; name one split's folder, e\.g\. .*both/train"):
        read_rows(str(tmp_path / "both"))
    assert read_rows(str(tmp_path / "both" / "train"))[0].values == {"text": "x", "label": "pos"}


def csv_error(tmp_path: Path, sentiment, text: str) -> str:
    (tmp_path / "s.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_task_samples(str(tmp_path / "s.csv"), sentiment, own(tmp_path), "seed", "seed")
    return str(caught.value)


def test_csv_errors_name_the_file_line_of_the_row(tmp_path: Path, sentiment) -> None:
    # row 3 starts on line 4: row 2's quoted text spans two lines
    message = csv_error(tmp_path, sentiment, 'review,verdict\nGood.,pos\n"Long,\nslow.",neg\nMeh.,meh\n')
    assert message == f"{tmp_path / 's.csv'}, line 5, field 'verdict': unknown label 'meh'; the task has pos, neg"
    assert "line 2, field 'review': empty text" in csv_error(tmp_path, sentiment, "review,verdict\n  ,pos\n")
    assert "line 2: 1 fields, the header has 2" in csv_error(tmp_path, sentiment, "review,verdict\nGood.\n")


def test_a_missing_column_is_named_with_the_param(tmp_path: Path, sentiment) -> None:
    message = csv_error(tmp_path, sentiment, "text,label\nGood.,pos\n")
    assert "line 2, field 'review': no column 'review' (columns: text, label); name the right one in " \
           "task.text_column" in message


def test_parquet_errors_name_the_row(tmp_path: Path, sentiment) -> None:
    pd.DataFrame({"review": ["Good.", None], "verdict": ["pos", "neg"]}).to_parquet(tmp_path / "s.parquet")
    with pytest.raises(InputError, match=r"s\.parquet, row 2, field 'review': missing value"):
        read_task_samples(str(tmp_path / "s.parquet"), sentiment, own(tmp_path), "seed", "seed")


def test_jsonl_errors_name_the_line_and_the_users_column(tmp_path: Path, sentiment) -> None:
    (tmp_path / "s.jsonl").write_text('{"review": "Good.", "verdict": "pos"}\n\n{"review": 3, "verdict": "pos"}\n',
                                      encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.jsonl, line 3, field 'review': expected text, got int"):
        read_task_samples(str(tmp_path / "s.jsonl"), sentiment, own(tmp_path), "seed", "seed")


def test_ner_schema_errors_name_the_users_column(tmp_path: Path) -> None:
    (tmp_path / "s.jsonl").write_text('{"words": ["Anna", "in"], "ner": ["B-PER", "I-LOC"]}\n', encoding="utf-8")
    (tmp_path / "news.yaml").write_text(yaml.safe_dump(NEWS), encoding="utf-8")
    params = TaskParams(file=str(tmp_path / "news.yaml"), seeds=str(tmp_path / "s.jsonl"), tokens_column="words",
                        tags_column="ner")
    with pytest.raises(InputError, match=r"line 1, field 'ner': tags\[1\]: 'I-LOC' follows 'B-PER'"):
        read_task_samples(str(tmp_path / "s.jsonl"), load_task(tmp_path / "news.yaml"), params, "seed", "seed")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("s.xlsx", "x", "unknown format '.xlsx'"),
    ("missing.csv", None, "file not found"),
    ("s.csv", "", "empty file; expected a header line"),
    ("s.parquet", "not parquet", "not a readable parquet file"),
    ("folder", "dir", "not one written by datasets' save_to_disk"),
])
def test_unreadable_sources(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_rows(str(path))


def test_hub_ids_need_a_split(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected hf:org/name:split"):
        read_rows("hf:org/name")


def test_unlabelled_texts_from_plain_text_and_tables(tmp_path: Path) -> None:
    (tmp_path / "u.txt").write_text("First text.\n\nSecond text.\nFirst text.\n", encoding="utf-8")
    assert read_texts(str(tmp_path / "u.txt"), "body") == ["First text.", "Second text."]
    (tmp_path / "u.csv").write_text("body\nOne.\n\" \"\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"u\.csv, line 3, field 'body': empty text"):
        read_texts(str(tmp_path / "u.csv"), "body")


def test_the_pool_never_holds_a_seed_or_gold_text_and_is_capped(sentiment) -> None:
    from evokd.data import ClassificationSample

    gold = [ClassificationSample(text="A warm, FUNNY film!", label="pos", round="test", stance="gold")]
    texts = ["a warm funny film", "New text one.", "New text two.", "New text three."]
    assert unlabelled_pool(texts, gold, 10, 0) == texts[1:]
    capped = unlabelled_pool(texts, gold, 2, 0)
    assert len(capped) == 2 and set(capped) < set(texts[1:]) and capped == unlabelled_pool(texts, gold, 2, 0)


def test_prepare_own_task_writes_every_file_and_keeps_test_texts_out_of_the_pool(tmp_path: Path, sentiment) -> None:
    rows = [{"review": text, "verdict": label} for text, label in REVIEWS]
    paths = write_all_formats(tmp_path, rows)
    (tmp_path / "u.txt").write_text("Dull and far too long.\nAn unlabelled text.\n", encoding="utf-8")
    params = own(tmp_path, seeds=str(paths["csv"]), test=str(paths["parquet"]), dev=str(paths["jsonl"]),
                 unlabelled=str(tmp_path / "u.txt"))
    written = prepare_task(params, 0, tmp_path / "raw")
    assert sorted(p.name for p in written) == ["dev.jsonl", "seeds.jsonl", "task.yaml", "test.jsonl",
                                               "unlabelled.jsonl"]
    assert (tmp_path / "raw/unlabelled.jsonl").read_text(encoding="utf-8") == '{"text": "An unlabelled text."}\n'
    test = read_samples(tmp_path / "raw/test.jsonl", sentiment)
    assert {(s.round, s.provenance.origin) for s in test} == {("test", "gold")} and len(test) == 3


def test_a_bad_test_file_writes_nothing(tmp_path: Path, sentiment) -> None:
    (tmp_path / "seeds.jsonl").write_text('{"review": "Good.", "verdict": "pos"}\n', encoding="utf-8")
    (tmp_path / "test.csv").write_text("review,verdict\nBad.,neg\nOdd.,odd\n", encoding="utf-8")
    params = own(tmp_path, seeds=str(tmp_path / "seeds.jsonl"), test=str(tmp_path / "test.csv"))
    with pytest.raises(InputError, match=r"test\.csv, line 3, field 'verdict': unknown label 'odd'"):
        prepare_task(params, 0, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


# ---- params --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "message"), [
    ({"benchmark": "rotten_tomatoes", "seeds": "s.csv"}, "not both: benchmark is 'rotten_tomatoes' and task.seeds"),
    ({"benchmark": "rotten_tomatoes", "test": "t.csv"}, "not both"),
    ({}, "no task: name a benchmark"),
    ({"benchmark": None, "file": NOT_GIVEN, "seeds": NOT_GIVEN}, "no task"),
    ({"file": "task.yaml"}, "needs task.seeds too"),
    ({"file": "task.yaml", "seeds": "s.csv", "unlabelled_split": "train"}, "for your own task name a file"),
    ({"benchmark": "imdb"}, "unknown benchmark 'imdb'"),
    ({"benchmark": "banking77", "seed_file": "x"}, "Extra inputs are not permitted"),
    ({"benchmark": "banking77", "unlabelled_split": "test"}, "'train'"),
])
def test_task_params_refuse_a_mixed_or_missing_task(tmp_path: Path, task: dict, message: str) -> None:
    raw = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text(encoding="utf-8"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**raw, "task": task}), encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        load_params(tmp_path / "params.yaml")
    assert "field 'task" in str(caught.value)


def test_the_shipped_params_select_the_benchmark_and_no_file() -> None:
    params = load_params(Path(__file__).parents[2] / "params.yaml")
    assert isinstance(params, Params) and params.task.benchmark == "rotten_tomatoes"
    assert [params.task.path(slot) for slot in ("file", "seeds", "dev", "test", "unlabelled")] == [None] * 5
    # not empty: DVC warns on an empty dep
    assert (Path(__file__).parents[2] / NOT_GIVEN).read_text().startswith("# placeholder")


# ---- evokd task init -----------------------------------------------------------------------------------


def test_task_init_scaffolds_the_labels_and_refuses_to_overwrite(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("review,intent\nWhere is my card?,card_arrival\nHi,greeting\nStill no card,card_arrival\n",
                     encoding="utf-8")
    args = ["task", "init", "--seeds", str(seeds), "--out", str(tmp_path / "tasks/bank"), "--text-column", "review",
            "--label-column", "intent"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    task = load_task(tmp_path / "tasks/bank/task.yaml")
    assert task.name == "bank" and task.kind == "classification" and task.label_names == ["card_arrival", "greeting"]
    assert task.words == {"card_arrival": "card arrival", "greeting": "greeting"}
    assert all(label.description.startswith("TODO:") for label in task.labels)
    assert f"  file: {tmp_path / 'tasks/bank/task.yaml'}\n  seeds: {seeds}\n  text_column: review\n" \
           "  label_column: intent\n" in result.output
    before = (tmp_path / "tasks/bank/task.yaml").read_bytes()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "never overwrites" in str(again.exception)
    assert (tmp_path / "tasks/bank/task.yaml").read_bytes() == before
    # an unfilled placeholder never reaches the teacher
    params = TaskParams(file=str(tmp_path / "tasks/bank/task.yaml"), seeds=str(seeds), text_column="review",
                        label_column="intent")
    with pytest.raises(InputError, match="field 'domain': still the placeholder of `evokd task init`"):
        prepare_task(params, 0, tmp_path / "raw")


def test_task_init_for_ner_finds_the_entity_types(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"tokens": ["Anna", "Berg", "in", "Oslo"], "tags": ["B-PER", "I-PER", "O", "B-LOC"]}\n',
                     encoding="utf-8")
    target, _ = scaffold_task(TaskParams(file=str(tmp_path / "t/task.yaml"), seeds=str(seeds)))
    task = load_task(target)
    assert task.kind == "ner" and task.label_names == ["PER", "LOC"]


def test_task_init_checks_the_seeds(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("text,label\nGood.,pos\n,neg\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"seeds\.csv, line 3, field 'text': empty text"):
        scaffold_task(TaskParams(file=str(tmp_path / "t/task.yaml"), seeds=str(seeds)))
    seeds.write_text("text,label\nGood.,pos\n", encoding="utf-8")
    with pytest.raises(InputError, match="its labels make no task: a classification task needs at least two"):
        scaffold_task(TaskParams(file=str(tmp_path / "t/task.yaml"), seeds=str(seeds)))
    assert not (tmp_path / "t").exists()


def test_prepare_cli_reads_a_params_file_like_the_stage(tmp_path: Path, sentiment) -> None:
    (tmp_path / "seeds.jsonl").write_text('{"review": "Good.", "verdict": "pos"}\n', encoding="utf-8")
    raw = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text(encoding="utf-8"))
    task = {"benchmark": None, "file": str(tmp_path / "task.yaml"), "seeds": str(tmp_path / "seeds.jsonl"), **COLUMNS}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**raw, "task": task}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["prepare", "--params", str(tmp_path / "params.yaml"), "--out",
                                      str(tmp_path / "raw")])
    assert result.exit_code == 0, result.output
    assert [s.text for s in read_samples(tmp_path / "raw/seeds.jsonl", sentiment)] == ["Good."]


def test_missing_datasets_package_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    (tmp_path / "folder").mkdir()
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(EvokdError, match=r"needs the datasets package: pip install -e '\.\[pipeline\]'"):
        read_rows(str(tmp_path / "folder"))
