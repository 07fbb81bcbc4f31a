"""Where a task's data comes from: a packaged benchmark or the user's own files, prepared into one folder.

The user's files come in the formats people have: JSONL (the sample schema, or any keys), CSV/TSV, parquet, a
folder written by `datasets`' `save_to_disk` (one split: `folder/train`), a Hugging Face dataset id
`hf:org/name:split` (a GPU box with the hub at hand; a pipeline should keep such data in a saved folder, which DVC
can hash), and, for unlabelled texts, plain text with one text per line. `task.*_column` params name the columns;
other columns are ignored. Rows become samples through `evokd.data.parse_sample`, so every format gets the same
checks; the first bad row is an InputError naming the file, the line (JSONL, CSV, text) or row (the others) and the
column, and nothing is written until every file has been read.

The gold test set is evaluation data: no unlabelled text equal to a test text (or a seed) reaches the pool.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evokd.benchmarks import load_benchmark, sample_shots, task_spec
from evokd.data import Sample, TaskSpec, load_task, parse_sample, save_task, write_prepared
from evokd.errors import EvokdError, InputError
from evokd.io import read_jsonl_numbered, write_jsonl
from evokd.loop.common import sample_text
from evokd.loop.dedup import normalize
from evokd.ner import tag_type
from evokd.params import TaskParams

HUB_PREFIX = "hf:"
UNLABELLED_FILE = "unlabelled.jsonl"
TXT_COLUMN = "text"  # the one column of a plain text file (one text per line)
PLACEHOLDER = "TODO:"  # what `evokd task init` writes where the user has to describe the task


@dataclass(frozen=True)
class Row:
    """One record of a file: where it is (for errors) and its values by column."""

    source: str  # the file; formats without lines add ", row N"
    line: int | None
    values: dict[str, Any]

    def error(self, message: str, column: str | None = None) -> InputError:
        return InputError(self.source, message, line=self.line, field=column)


# ---- reading rows ----------------------------------------------------------------------------------------


def read_rows(source: str) -> list[Row]:
    """Every record of a file, folder or hub id, in order; the format follows from the name."""
    if source.startswith(HUB_PREFIX):
        return _hub_rows(source)
    path = Path(source)
    if path.is_dir():
        return _dataset_rows(path, _load_saved(path))
    if not path.is_file():
        raise InputError(source, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [Row(source, number, row) for number, row in read_jsonl_numbered(path)]
    if suffix in (".csv", ".tsv"):
        return _csv_rows(path, "\t" if suffix == ".tsv" else ",")
    if suffix == ".parquet":
        return _parquet_rows(path)
    if suffix == ".txt":
        return [Row(source, number, {TXT_COLUMN: line}) for number, line in enumerate(_text(path).split("\n"), start=1)
                if line.strip()]
    raise InputError(source, f"unknown format {suffix or '(no extension)'!r}; expected .jsonl, .csv, .tsv, "
                             ".parquet, .txt (unlabelled texts), a save_to_disk folder or hf:org/name:split")


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _csv_rows(path: Path, delimiter: str) -> list[Row]:
    """Records with the file line each starts on (quoted fields may span lines); blank lines are skipped."""
    rows: list[Row] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, None)
            if not header:
                raise InputError(str(path), "empty file; expected a header line naming the columns")
            end = reader.line_num
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record:  # a blank line
                    continue
                if len(record) != len(header):
                    raise InputError(str(path), f"{len(record)} fields, the header has {len(header)}", line=start)
                rows.append(Row(str(path), start, dict(zip(header, record, strict=True))))
        except UnicodeDecodeError as exc:
            raise InputError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except csv.Error as exc:
            raise InputError(str(path), f"not valid CSV ({exc})", line=reader.line_num) from None
    return rows


def _parquet_rows(path: Path) -> list[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise EvokdError(f"{path}: reading parquet needs pyarrow: pip install -e '.[pipeline]'") from None
    try:
        records = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own error types for every kind of broken file
        raise InputError(str(path), f"not a readable parquet file ({exc})") from None
    return [Row(f"{path}, row {index}", None, record) for index, record in enumerate(records, start=1)]


def _datasets():
    try:
        import datasets
    except ImportError:
        raise EvokdError("reading a datasets folder or hub id needs the datasets package: "
                         "pip install -e '.[pipeline]'") from None
    return datasets


def _load_saved(path: Path):
    datasets = _datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError:
        raise InputError(str(path), "a folder, but not one written by datasets' save_to_disk") from None
    if isinstance(loaded, datasets.DatasetDict):
        raise InputError(str(path), f"holds the splits {', '.join(loaded)}; name one split's folder, e.g. "
                                    f"{path / next(iter(loaded))}")
    return loaded


def _hub_rows(source: str) -> list[Row]:
    name, _, split = source.removeprefix(HUB_PREFIX).partition(":")
    if not name or not split:
        raise InputError(source, "expected hf:org/name:split, e.g. hf:SetFit/amazon_counterfactual_en:train")
    datasets = _datasets()
    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as exc:  # offline, unknown id, unknown split: the hub client's own error types
        raise EvokdError(f"{source}: cannot load it from the Hugging Face hub ({type(exc).__name__}: {exc}); "
                         "offline, save the split with save_to_disk on a machine that has the hub and name the "
                         "folder instead") from None
    return _dataset_rows(Path(source), dataset)


def _dataset_rows(path: Path, dataset) -> list[Row]:
    """Rows of a `datasets.Dataset`, ClassLabel ids turned into their names (labels and NER tags)."""
    class_label = _datasets().ClassLabel
    names = {}
    for column, feature in dataset.features.items():
        inner = getattr(feature, "feature", feature)  # a list of ClassLabel for NER tags
        if isinstance(inner, class_label):
            names[column] = inner.names
    rows = []
    for index, record in enumerate(dataset.to_list(), start=1):
        for column, labels in names.items():
            value = record[column]
            record[column] = [labels[v] for v in value] if isinstance(value, list) else labels[value]
        rows.append(Row(f"{path}, row {index}", None, record))
    return rows


# ---- rows into samples -----------------------------------------------------------------------------------


def _value(row: Row, column: str, param: str) -> Any:
    if column not in row.values:
        known = ", ".join(map(str, row.values)) or "none"
        raise row.error(f"no column {column!r} (columns: {known}); name the right one in task.{param}", column)
    value = row.values[column]
    if value is None:
        raise row.error("missing value", column)
    return value


def _text_value(row: Row, column: str) -> str:
    text = _value(row, column, "text_column")
    if not isinstance(text, str):
        raise row.error(f"expected text, got {type(text).__name__}", column)
    if not text.strip():
        raise row.error("empty text", column)
    return text


def _words(row: Row, column: str, param: str) -> list[str]:
    """A token or tag list: a list, or a string of whitespace-separated items (CSV)."""
    value = _value(row, column, param)
    if isinstance(value, str):
        return value.split()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise row.error("expected a list of strings or one whitespace-separated string", column)
    return value


def to_sample(row: Row, task: TaskSpec, params: TaskParams, round_name: str, origin: str) -> Sample:
    """One row as a sample of the task, checked by parse_sample; errors name the user's column."""
    if task.kind == "ner":
        values = {"tokens": _words(row, params.tokens_column, "tokens_column"),
                  "tags": _words(row, params.tags_column, "tags_column")}
        columns = {"tokens": params.tokens_column, "tags": params.tags_column}
    else:
        text = _text_value(row, params.text_column)
        label = _value(row, params.label_column, "label_column")
        values = {"text": text, "label": label if isinstance(label, str) else str(label)}
        columns = {"text": params.text_column, "label": params.label_column}
    try:
        return parse_sample({**values, "round": round_name, "provenance": {"origin": origin}}, task, row.source,
                            row.line)
    except InputError as exc:
        raise _renamed(exc, columns) from None


def _renamed(error: InputError, columns: dict[str, str]) -> InputError:
    """The same error with the schema's field (`text`, `tags.3`) named as the user's column (`review`, `ner.3`)."""
    if not error.field:
        return error
    prefix = str(InputError(error.source, "", error.line, error.field))
    root, dot, rest = error.field.partition(".")
    return InputError(error.source, str(error)[len(prefix):], error.line, columns.get(root, root) + dot + rest)


def read_task_samples(source: str, task: TaskSpec, params: TaskParams, round_name: str, origin: str) -> list[Sample]:
    samples = [to_sample(row, task, params, round_name, origin) for row in read_rows(source)]
    if not samples:
        raise InputError(source, "no samples")
    return samples


def read_texts(source: str, text_column: str) -> list[str]:
    """Unlabelled texts of a file (only the text column is read; a .txt file's lines are its `text` column); each
    text once, in file order."""
    column = TXT_COLUMN if source.lower().endswith(".txt") else text_column
    return list(dict.fromkeys(_text_value(row, column).strip() for row in read_rows(source)))


# ---- the prepared task -----------------------------------------------------------------------------------


@dataclass
class Prepared:
    task: TaskSpec
    seeds: list[Sample]
    test: list[Sample] | None
    dev: list[Sample] | None
    unlabelled: list[str]


def _benchmark(params: TaskParams, seed: int) -> Prepared:
    assert params.benchmark is not None
    task = task_spec(params.benchmark)
    splits = load_benchmark(params.benchmark)
    seeds = sample_shots(task, splits["train"], params.shots, seed)
    test = [sample.model_copy(update={"round": "test"}) for sample in splits["test"]]
    dev = [sample.model_copy(update={"round": "dev"}) for sample in splits["dev"]] if "dev" in splits else None
    pool = [sample_text(sample) for sample in splits[params.unlabelled_split]] if params.unlabelled_split else []
    return Prepared(task, seeds, test, dev, pool)


def _own(params: TaskParams) -> Prepared:
    task_file, seeds_file = params.path("file"), params.path("seeds")
    assert task_file is not None and seeds_file is not None
    task = load_task(task_file)
    _check_filled_in(task, task_file)
    seeds = read_task_samples(seeds_file, task, params, "seed", "seed")
    test, dev = (read_task_samples(path, task, params, split, "gold") if path else None
                 for split, path in (("test", params.path("test")), ("dev", params.path("dev"))))
    unlabelled_file = params.path("unlabelled")
    unlabelled = read_texts(unlabelled_file, params.text_column) if unlabelled_file else []
    if unlabelled_file and not unlabelled:
        raise InputError(unlabelled_file, "no texts")
    return Prepared(task, seeds, test, dev, unlabelled)


def _check_filled_in(task: TaskSpec, source: str) -> None:
    """A task file scaffolded by `evokd task init` still holding a placeholder would reach the teacher as is."""
    texts = {"domain": task.domain, **{f"labels.{index}.description": label.description
                                        for index, label in enumerate(task.labels)}}
    for field, text in texts.items():
        if text.startswith(PLACEHOLDER):
            raise InputError(source, f"still the placeholder of `evokd task init` ({text!r}); describe it in one "
                                     "line for the teacher", field=field)


def unlabelled_pool(texts: Sequence[str], held_out: Sequence[Sample], cap: int, seed: int) -> list[str]:
    """The pool: texts that are neither seeds nor gold test/dev texts, each once, at most `cap` (seeded sample,
    file order kept)."""
    taken = {normalize(sample_text(sample)) for sample in held_out}
    kept = list(dict.fromkeys(text for text in texts if normalize(text) not in taken))
    if len(kept) > cap:
        chosen = set(random.Random(seed).sample(range(len(kept)), cap))
        kept = [text for index, text in enumerate(kept) if index in chosen]
    return kept


def prepare_task(params: TaskParams, seed: int, out_dir: str | Path) -> list[Path]:
    """Write task.yaml, seeds.jsonl, test.jsonl / dev.jsonl (where there are) and unlabelled.jsonl (always; empty
    when there are no texts) into out_dir. Everything is read and checked before the first file is written."""
    prepared = _benchmark(params, seed) if params.benchmark else _own(params)
    held_out = [*prepared.seeds, *(prepared.test or []), *(prepared.dev or [])]
    pool = unlabelled_pool(prepared.unlabelled, held_out, params.unlabelled_max, seed)
    if prepared.unlabelled and not pool:
        raise EvokdError("every unlabelled text is a seed or a gold dev/test text; the unlabelled pool is empty")
    written = write_prepared(out_dir, prepared.task, prepared.seeds, prepared.test, prepared.dev)
    written.append(Path(out_dir) / UNLABELLED_FILE)
    write_jsonl(written[-1], ({"text": text} for text in pool))
    return written


# ---- a new task from its seeds ---------------------------------------------------------------------------


def scaffold_task(params: TaskParams) -> tuple[Path, list[str]]:
    """Write the task file `params.file` from the labels (or entity types) found in `params.seeds`, with
    placeholders for what the user has to describe; return it and the params.yaml lines that select the task.

    Refuses to overwrite an existing file. The seeds are checked against the new task before it is written.
    """
    target, seeds = Path(str(params.path("file"))), str(params.path("seeds"))
    if target.exists():
        raise EvokdError(f"{target} exists; evokd task init never overwrites a file (remove it or pick another --out)")
    rows = read_rows(seeds)
    if not rows:
        raise InputError(seeds, "no samples; the labels are read from the seeds")
    ner = params.tags_column in rows[0].values and params.label_column not in rows[0].values
    if ner:
        found = [tag_type(tag) for row in rows for tag in _words(row, params.tags_column, "tags_column")]
        names = [name for name in dict.fromkeys(found) if name]
    else:
        names = list(dict.fromkeys(str(_value(row, params.label_column, "label_column")) for row in rows))
    labels = [{"name": name, "description": f"{PLACEHOLDER} one line on what makes a text {name!r}",
               **({} if ner else {"verbalizer": name.replace("_", " ")})} for name in names]
    try:
        task = TaskSpec.model_validate({"name": target.parent.name or "my_task", "kind": "ner" if ner else
                                        "classification", "labels": labels,
                                        "domain": f"{PLACEHOLDER} one line on where the texts come from"})
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InputError(seeds, f"its labels make no task: {problem}") from None
    for row in rows:
        to_sample(row, task, params, "seed", "seed")
    save_task(target, task)
    defaults = TaskParams.model_fields
    columns = [f"  {key}: {getattr(params, key)}" for key in ("text_column", "label_column", "tokens_column",
                                                               "tags_column")
               if getattr(params, key) != defaults[key].default]
    return target, ["task:", "  benchmark: null", f"  file: {target}", f"  seeds: {seeds}", *columns]
