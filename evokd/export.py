"""The synthetic dataset of a run as one versioned folder: `synthetic.jsonl`, `synthetic.parquet` and a dataset card.

Downstream users want the teacher's data without DVC's round folders: one flat table with the provenance as
columns, readable by pandas and `datasets.load_dataset("json" | "parquet", ...)` as it is. The source is the final
round's pool (every sample the loop kept, in chain order); gold samples are not synthetic and are left out, and the
gold test set is never read.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evokd.data import ClassificationSample, Sample, TaskSpec, read_samples
from evokd.errors import InputError
from evokd.io import atomic_directory, write_jsonl
from evokd.loop.report import samples_per_label

JSONL, PARQUET, CARD = "synthetic.jsonl", "synthetic.parquet", "README.md"
PROVENANCE_COLUMNS = ("origin", "intent", "teacher_model", "prompt_set", "request_key")
SYNTHETIC_ORIGINS = ("teacher", "init", "unlabelled")  # not gold, seed, nor review (a copy of an earlier sample)


def synthetic_samples(task: TaskSpec, pool: Path) -> list[Sample]:
    """The samples of a pool file that the teacher wrote or labelled, in its order (gold and seeds left out)."""
    return [sample for sample in read_samples(pool, task) if sample.provenance.origin in SYNTHETIC_ORIGINS]


def final_pool(rounds_dir: Path, final_round: str | None = None) -> Path:
    """The pool of `final_round`, or of the last round folder by name (r00, r01, ...) that has one."""
    if final_round is None:
        pools = sorted(rounds_dir.glob("*/pool.jsonl"), key=lambda path: path.parent.name)
        if not pools:
            raise InputError(str(rounds_dir), "no round folder with a pool.jsonl; run `dvc repro` first")
        return pools[-1]
    return rounds_dir / final_round / "pool.jsonl"


def export_row(sample: Sample) -> dict[str, Any]:
    """One flat row: the sample's fields, then its provenance as columns (`origin`, `intent`, ...)."""
    row = sample.model_dump(mode="json", exclude={"provenance"})
    provenance = sample.provenance.model_dump(mode="json")
    return {**row, **{name: provenance[name] for name in PROVENANCE_COLUMNS}}


def export_dataset(task: TaskSpec, samples: list[Sample], out_dir: Path) -> dict[str, Any]:
    """Write the three files into `out_dir` (replaced whole, atomically); returns the counts the card shows."""
    rows = [export_row(sample) for sample in samples]
    counts = dataset_counts(task, samples)
    with atomic_directory(out_dir) as tmp:
        write_jsonl(tmp / JSONL, rows)
        pq.write_table(pa.Table.from_pylist(rows), tmp / PARQUET)
        (tmp / CARD).write_text(dataset_card(task, counts), encoding="utf-8")
    return counts


def dataset_counts(task: TaskSpec, samples: list[Sample]) -> dict[str, Any]:
    """Samples per round and stance, per label (entity mentions per type for NER), teacher models, scoring."""
    by_round: dict[str, Counter[str]] = {}
    for sample in samples:
        by_round.setdefault(sample.round, Counter())[sample.stance or sample.provenance.origin] += 1  # init: no stance
    return {
        "samples": len(samples),
        "rounds": {name: dict(sorted(stances.items())) for name, stances in by_round.items()},
        "labels": dict(samples_per_label(task, samples)),
        "teacher_models": sorted({sample.provenance.teacher_model or "unknown" for sample in samples}),
        "prompt_sets": sorted({sample.provenance.prompt_set or "unknown" for sample in samples}),
        "scored": sum(isinstance(sample, ClassificationSample) and sample.probs is not None for sample in samples),
    }


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)])


def dataset_card(task: TaskSpec, counts: dict[str, Any]) -> str:
    """A short dataset card (Hugging Face README with YAML front matter): task, labels, counts, how it was made."""
    ner = task.kind == "ner"
    stances = sorted({stance for row in counts["rounds"].values() for stance in row})
    round_rows = [(name, *(row.get(stance, 0) for stance in stances), sum(row.values()))
                  for name, row in counts["rounds"].items()]
    label_rows = [(label.name, label.description, counts["labels"].get(label.name, 0)) for label in task.labels]
    models = ", ".join(f"`{model}`" for model in counts["teacher_models"]) or "none"
    if ner:
        labelling = ("The teacher marked the entity spans of each sentence in a separate call, constrained to the "
                     "sentence's own substrings; spans were converted to word-level IOB2 `tags`.")
        columns = ("`tokens`, `tags` (IOB2), `text` (the teacher's sentence), `spans` (its entity spans)")
    else:
        labelling = (f"{counts['scored']} of {counts['samples']} samples were labelled in a separate call by scoring "
                     "every label word (log-probabilities, calibrated as `loop.calibration` says): they keep the "
                     "distribution in `probs` and its top probability in `confidence`; the rest keep the label "
                     "the teacher proposed with the text.")
        columns = "`text`, `label`, `probs` (label -> probability), `confidence`"
    return f"""---
license: other
pretty_name: {task.name} (EvoKD synthetic)
language:
- {task.language}
task_categories:
- {"token-classification" if ner else "text-classification"}
tags:
- synthetic
- knowledge-distillation
- evokd
configs:
- config_name: default
  data_files: {PARQUET}
---

# {task.name}: synthetic data written by an LLM teacher (EvoKD)

{counts["samples"]} {"sentences" if ner else "samples"} for {task.kind} in the domain "{task.domain}", written and
labelled by the teacher {models} over {len(counts["rounds"])} rounds of Evolving Knowledge Distillation (EvoKD,
LREC-COLING 2024), prompt set {", ".join(counts["prompt_sets"]) or "none"}.

## {"Entity types" if ner else "Labels"}

{_table(("id", "description", "entities" if ner else "samples"), label_rows)}

## Samples per round and stance

{_table(("round", *stances, "total"), round_rows)}

`hard`: written at the weaknesses the teacher found in the previous student's predictions; `easy`: on what that
student already got right (against forgetting); `static`: written with no feedback; `unlabelled`: real in-domain
texts (the task's unlabelled pool) that the teacher labelled; `init` (an origin, no stance): paraphrases of the gold
seeds (EvoKD+Init). The first round's batch was written from the task and the seeds alone, before any student
feedback.

## How it was made

Each round the teacher read how the current student did on the latest batch (wrong and right predictions), wrote
an analysis of its weaknesses, and generated new inputs aimed at them; the inputs were validated, deduplicated
against everything so far and length-checked. {labelling} The student was then trained on the batch, and its
predictions on the next batch fed the next round.

Not included: the gold seeds (the teacher saw them as examples; they are not synthetic) and the gold test set
(never shown to the teacher, never read by this export).

## Columns

{columns}, `round`, `stance`, and the provenance of each sample: `origin` (teacher: written by the teacher; init:
a seed's paraphrase; unlabelled: a real text the teacher labelled), `intent` (the label or entity type it was
written for), `teacher_model`, `prompt_set`, `request_key` (the key of the teacher request in evokd's cache).

## Licence

The texts and labels were generated by the teacher model(s) above: their use is subject to those models' licences
and terms (the bundled Qwen2.5-Coder and SmolLM2 teachers are Apache-2.0), and the prompts showed the task's gold
seeds, whose licence is the source dataset's.

## Loading

```python
import pandas as pd
frame = pd.read_parquet("{PARQUET}")          # or pd.read_json("{JSONL}", lines=True)

from datasets import load_dataset
dataset = load_dataset("parquet", data_files="{PARQUET}", split="train")
# or: load_dataset("json", data_files="{JSONL}", split="train")
```
"""
