"""The bad-input catalogue: each broken file or value, run through the real CLI entry points as a user would.

Every case must exit 2 with ONE line on stderr that names the file (and key/line) and what was expected, show no
traceback (unless --debug), and leave every file that existed before byte-for-byte as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from faultkit import NEWS, PARAMS, Project

PREPARE_STAGE = ("stages/prepare.py", "--out", "data/raw")
IMPORT = ("prepare", "--task", "task.yaml", "--seeds", "seeds.jsonl", "--out", "data/raw")
IMPORT_NER = ("prepare", "--task", "news.yaml", "--seeds", "ner.jsonl", "--out", "data/raw")
ANALYZE_STAGE = ("stages/analyze.py", "--round", "r01", "--task", "task.yaml", "--probe", "probe.jsonl",
                 "--probe-scores", "probe_scores.json", "--history", "history.jsonl", "--out", "analysis.json",
                 "--out-history", "analyses.jsonl", "--stats", "stats.json")
EVALUATE = ("evaluate", "--model", "not_a_model", "--task", "task.yaml", "--data", "seeds.jsonl", "--out", "m.json")
NER_LINE = '{"tokens": ["Anna", "lives", "in", "Oslo"], "tags": %s}\n'


def params_with(section: str, **values: object) -> dict:
    """PARAMS with some keys of `section` set."""
    changed = {key: dict(value) if isinstance(value, dict) else value for key, value in PARAMS.items()}
    changed[section] = {**changed.get(section, {}), **values}
    return changed


def task_with(**values: object) -> dict:
    return {"name": "reviews", "kind": "classification", "domain": "movie reviews",
            "labels": [{"name": "positive", "description": "liked it"},
                       {"name": "negative", "description": "disliked it"}], **values}


@dataclass
class Case:
    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # substrings of the one error line
    files: dict[str, object] = field(default_factory=dict)


CASES = [
    # params.yaml, read by the first stage of `dvc repro`
    Case("params-negative-count", PREPARE_STAGE, ("params.yaml", "loop.n_hard", "greater than or equal to 0"),
         {"params.yaml": params_with("loop", n_hard=-1)}),
    Case("params-zero-shots", PREPARE_STAGE, ("params.yaml", "task.shots", "greater than or equal to 1"),
         {"params.yaml": params_with("task", shots=0)}),
    Case("params-unknown-benchmark", PREPARE_STAGE, ("params.yaml", "unknown benchmark 'imdb'", "banking77"),
         {"params.yaml": params_with("task", benchmark="imdb")}),
    Case("params-rounds-missing-prev", PREPARE_STAGE, ("params.yaml", "rounds.r02.prev", "'r09'"),
         {"params.yaml": {**PARAMS, "rounds": {"r01": {"prev": "r00"}, "r02": {"prev": "r09"}}}}),
    Case("params-rounds-cyclic", PREPARE_STAGE, ("params.yaml", "cyclic", "r01 -> r02 -> r01"),
         {"params.yaml": {**PARAMS, "rounds": {"r01": {"prev": "r02"}, "r02": {"prev": "r01"}}}}),
    Case("params-unknown-key", PREPARE_STAGE, ("params.yaml", "loop.n_hardd", "Extra inputs are not permitted"),
         {"params.yaml": params_with("loop", n_hardd=3)}),
    Case("params-wrong-type", PREPARE_STAGE, ("params.yaml", "student.epochs", "valid number", "'many'"),
         {"params.yaml": params_with("student", epochs="many")}),
    Case("params-port-out-of-range", PREPARE_STAGE, ("params.yaml", "teacher.port", "65535"),
         {"params.yaml": params_with("teacher", port=70000)}),
    Case("params-min-above-max-chars", PREPARE_STAGE, ("params.yaml", "min_chars (500)", "max_chars (300)"),
         {"params.yaml": params_with("loop", min_chars=500)}),
    Case("params-not-a-mapping", PREPARE_STAGE, ("params.yaml", "expected a mapping of sections"),
         {"params.yaml": "- task\n- teacher\n"}),
    Case("params-not-yaml", PREPARE_STAGE, ("params.yaml", "line 2", "not valid YAML"),
         {"params.yaml": "seed: 13\n\ttask: {}\n"}),
    Case("params-unknown-prompt-set", ANALYZE_STAGE, ("field 'prompts.set'", "'nope' not found", "['default']"),
         {"params.yaml": params_with("prompts", set="nope")}),
    # task files
    Case("task-empty-labels", IMPORT, ("task.yaml", "field 'labels'", "at least 1 item"),
         {"task.yaml": task_with(labels=[])}),
    Case("task-duplicate-labels", IMPORT, ("task.yaml", "duplicate labels: positive"),
         {"task.yaml": task_with(labels=[{"name": "positive", "description": "a"},
                                         {"name": "positive", "description": "b"}])}),
    Case("task-one-class", IMPORT, ("task.yaml", "at least two labels"),
         {"task.yaml": task_with(labels=[{"name": "positive", "description": "a"}])}),
    Case("task-unknown-kind", IMPORT, ("task.yaml", "field 'kind'", "'classification' or 'ner'"),
         {"task.yaml": task_with(kind="sentiment")}),
    Case("task-label-with-space", IMPORT, ("task.yaml", "must not contain whitespace"),
         {"task.yaml": task_with(labels=[{"name": "very good", "description": "a"},
                                         {"name": "bad", "description": "b"}])}),
    Case("task-ner-type-is-a-tag", IMPORT_NER, ("news.yaml", "bare names like PER", "B-PER"),
         {"news.yaml": {**NEWS.model_dump(mode="json"), "labels": [{"name": "B-PER", "description": "a"}]}}),
    Case("task-not-a-mapping", IMPORT, ("task.yaml", "expected a YAML mapping"), {"task.yaml": "- positive\n"}),
    Case("task-missing", ("prepare", "--task", "nothing.yaml", "--seeds", "seeds.jsonl"),
         ("nothing.yaml", "file not found")),
    # seed files
    Case("seeds-unknown-label", IMPORT, ("seeds.jsonl", "line 2", "unknown label 'neutral'", "positive"),
         {"seeds.jsonl": '{"text": "Great fun.", "label": "positive"}\n{"text": "Fine.", "label": "neutral"}\n'}),
    Case("seeds-empty-text", IMPORT, ("seeds.jsonl", "line 1", "field 'text'", "empty text"),
         {"seeds.jsonl": '{"text": "", "label": "positive"}\n'}),
    Case("seeds-missing-label", IMPORT, ("seeds.jsonl", "line 1", "field 'label'", "no column 'label'"),
         {"seeds.jsonl": '{"text": "Great fun."}\n'}),
    Case("seeds-not-jsonl", IMPORT, ("seeds.jsonl", "line 1", "not valid JSON", "one JSON object per line"),
         {"seeds.jsonl": "text,label\nGreat fun.,positive\n"}),
    Case("seeds-array-line", IMPORT, ("seeds.jsonl", "line 1", "expected a JSON object, got list"),
         {"seeds.jsonl": '["Great fun.", "positive"]\n'}),
    Case("seeds-latin1", IMPORT, ("seeds.jsonl", "not UTF-8 text"),
         {"seeds.jsonl": '{"text": "Un film charmant, très réussi.", "label": "positive"}\n'.encode("latin-1")}),
    Case("seeds-empty-file", IMPORT, ("seeds.jsonl", "no samples"), {"seeds.jsonl": "\n"}),
    Case("seeds-ner-length-mismatch", IMPORT_NER, ("ner.jsonl", "line 1", "3 tags for 4 tokens"),
         {"ner.jsonl": NER_LINE % '["B-PER", "O", "O"]'}),
    Case("seeds-ner-not-iob2", IMPORT_NER, ("ner.jsonl", "line 1", "'X-LOC' is not an IOB2 tag"),
         {"ner.jsonl": NER_LINE % '["B-PER", "O", "O", "X-LOC"]'}),
    Case("seeds-ner-inside-without-begin", IMPORT_NER, ("ner.jsonl", "'I-LOC' follows 'O'", "B-LOC"),
         {"ner.jsonl": NER_LINE % '["B-PER", "O", "O", "I-LOC"]'}),
    Case("seeds-ner-unknown-type", IMPORT_NER, ("ner.jsonl", "line 1", "unknown tag 'B-ORG'"),
         {"ner.jsonl": NER_LINE % '["B-ORG", "O", "O", "B-LOC"]'}),
    # outputs and checkpoints
    Case("out-under-a-file", ("prepare", "--task", "task.yaml", "--seeds", "seeds.jsonl", "--out", "notes.txt/raw"),
         ("cannot write notes.txt/raw", "expected a writable folder"), {"notes.txt": "a file, not a folder\n"}),
    Case("checkpoint-not-a-model", EVALUATE, ("not_a_model: not a model checkpoint (no config.json)",),
         {"not_a_model/notes.txt": "just notes\n"}),
    Case("checkpoint-broken-config", EVALUATE, ("not_a_model: not a readable model checkpoint",),
         {"not_a_model/config.json": "{}\n"}),
]


def prepared(project: Project, case: Case) -> dict[str, bytes]:
    project.write("news.yaml", NEWS.model_dump(mode="json"))
    project.write("ner.jsonl", NER_LINE % '["B-PER", "O", "O", "B-LOC"]')
    for name, content in case.files.items():
        project.write(name, content)
    return project.snapshot()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_in_one_line_and_changes_nothing(project: Project, case: Case) -> None:
    before = prepared(project, case)
    result = project.run(*case.args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    for part in case.expect:
        assert part in lines[0]
    assert project.snapshot() == before


def test_debug_shows_the_traceback(project: Project) -> None:
    case = next(case for case in CASES if case.id == "seeds-unknown-label")
    before = prepared(project, case)
    result = project.run(*IMPORT)
    debug = project.run("--debug", *IMPORT)
    assert result.returncode == debug.returncode == 2
    assert "Traceback" not in result.stderr and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == result.stderr.strip()
    assert project.snapshot() == before
