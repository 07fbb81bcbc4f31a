"""Pure parts of the student: sub-token alignment, metrics on hand-made answers, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared import LETTERS, TINY

from evokd.data import ClassificationSample, LabelSpec, NerSample, TaskSpec
from evokd.errors import EvokdError
from evokd.params import student_config
from evokd.student.config import StudentConfig, resolve_base_model
from evokd.student.encoding import IGNORE, align_labels, first_subtokens
from evokd.student.metrics import confusion_rows, score
from evokd.student.predict import Prediction
from evokd.student.train import train_student, with_glosses

REPO = Path(__file__).resolve().parents[2]
# ORG too: the span-scoring cases tag organisations
NEWS = TaskSpec(name="news", kind="ner", domain="news",
                labels=[LabelSpec(name=n, description=n) for n in ("PER", "ORG", "LOC")])


def test_align_labels_first_subtoken_keeps_the_label() -> None:
    # [CLS] jo ##hn smith ##son ##s [SEP]: word 0 -> 2 sub-tokens, word 1 -> 3 sub-tokens
    word_ids = [None, 0, 0, 1, 1, 1, None]
    assert align_labels(word_ids, [1, 2]) == [IGNORE, 1, IGNORE, 2, IGNORE, IGNORE, IGNORE]


def test_align_labels_single_subtoken_words_and_truncation() -> None:
    assert align_labels([None, 0, 1, 2, None], [0, 3, 4]) == [IGNORE, 0, 3, 4, IGNORE]
    assert align_labels([None, 0, None], [5, 6, 7]) == [IGNORE, 5, IGNORE]  # words 1-2 cut off


def test_first_subtokens() -> None:
    assert first_subtokens([None, 0, 0, 1, 2, 2, None]) == {0: 1, 1: 3, 2: 4}


def test_alignment_with_the_bundled_fast_tokenizer() -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("bundled:all-minilm-l6-v2"))
    words = ["Ouagadougou", "hosts", "Johannesburg"]
    encoding = tokenizer(words, is_split_into_words=True)
    labels = align_labels(encoding.word_ids(), [5, 0, 5])
    assert len(labels) == len(encoding["input_ids"]) > len(words) + 2  # long names split into sub-tokens
    assert [label for label in labels if label != IGNORE] == [5, 0, 5]
    assert labels[1] == 5 and labels[0] == labels[-1] == IGNORE


def test_unsure_words_are_left_out_of_the_loss() -> None:
    """A sample's `unsure` words (the teacher's two reads disagree on them) get IGNORE; the others keep their tag."""
    from transformers import AutoTokenizer

    from evokd.student.encoding import encode

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("bundled:all-minilm-l6-v2"))
    sample = NerSample(tokens=["Lund", "lives", "in", "Oslo"], tags=["B-PER", "O", "O", "B-PER"], unsure=[3])
    labels = encode(NEWS, [sample], tokenizer, 32)[0]["labels"]
    assert [label for label in labels if label != IGNORE] == [1, 0, 0]  # B-PER, O, O; Oslo left out
    with pytest.raises(ValueError, match="unsure word indices"):
        NerSample(tokens=["Oslo"], tags=["B-LOC"], unsure=[1])


def ner(tags: list[list[str]]) -> list[NerSample]:
    return [NerSample(tokens=["w"] * len(t), tags=t) for t in tags]


def tagged(tags: list[list[str]]) -> list[Prediction]:
    return [Prediction(label=None, tags=t, probs=None, confidence=1.0) for t in tags]


def test_seqeval_strict_span_scores() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O"]]
    result = score(NEWS, ner(gold), tagged(pred))
    assert result["precision"] == 1.0
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == result["score"] == pytest.approx(0.8)
    assert result["per_label"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert result["per_label"]["PER"]["f1"] == 1.0


def test_seqeval_strict_mode_rejects_entities_without_b() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]  # lenient conlleval would count the PER span as right
    result = score(NEWS, ner(gold), tagged(pred))
    assert (result["precision"], result["recall"]) == (1.0, 0.5)
    assert result["f1"] == pytest.approx(2 / 3)


def test_seqeval_partial_span_is_wrong() -> None:
    result = score(NEWS, ner([["B-ORG", "I-ORG", "I-ORG"]]), tagged([["B-ORG", "I-ORG", "O"]]))
    assert result["f1"] == 0.0


def test_classification_scores() -> None:
    gold = [ClassificationSample(text="x", label=label) for label in ("a", "a", "b", "b")]
    pred = [Prediction(label=label, tags=None, probs=None, confidence=1.0) for label in ("a", "b", "b", "b")]
    result = score(LETTERS, gold, pred)
    assert result["accuracy"] == 0.75
    assert result["per_label"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert result["per_label"]["b"]["f1"] == pytest.approx(0.8)
    assert result["macro_f1"] == result["score"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert "c" not in result["per_label"]  # neither in the gold nor predicted


def test_confusion_rows_one_per_sample_or_entity_token() -> None:
    gold = [ClassificationSample(text="x", label=label) for label in ("a", "b")]
    pred = [Prediction(label=label, tags=None, probs=None, confidence=1.0) for label in ("b", "b")]
    assert confusion_rows(LETTERS, gold, pred) == [{"actual": "a", "predicted": "b"}, {"actual": "b", "predicted": "b"}]
    rows = confusion_rows(NEWS, ner([["B-PER", "I-PER", "O", "O"]]), tagged([["B-PER", "B-ORG", "B-LOC", "O"]]))
    assert rows == [{"actual": "PER", "predicted": "PER"}, {"actual": "PER", "predicted": "ORG"},
                    {"actual": "O", "predicted": "LOC"}]


def test_score_checks_lengths_and_kinds() -> None:
    with pytest.raises(ValueError, match="1 gold samples but 0 predictions"):
        score(LETTERS, [ClassificationSample(text="x", label="a")], [])
    with pytest.raises(ValueError, match="ClassificationSample"):
        score(LETTERS, ner([["O"]]), tagged([["O"]]))
    with pytest.raises(ValueError, match="2 gold tags but 1 predicted"):
        score(NEWS, ner([["O", "O"]]), tagged([["O"]]))


def test_resolve_base_model() -> None:
    assert (Path(resolve_base_model("bundled:all-minilm-l6-v2")) / "config.json").is_file()
    assert resolve_base_model("bert-base-uncased") == "bert-base-uncased"
    with pytest.raises(EvokdError, match="unknown bundled encoder 'bert'"):
        resolve_base_model("bundled:bert")


def test_student_config_from_params() -> None:
    assert student_config(None) == StudentConfig()
    assert isinstance(student_config(REPO / "params.yaml"), StudentConfig)
    with pytest.raises(ValueError, match="extra"):
        StudentConfig(batchsize=8)


def test_training_refuses_labels_outside_the_task(tmp_path: Path) -> None:
    samples = [ClassificationSample(text="x", label="a"), ClassificationSample(text="y", label="z")]
    with pytest.raises(EvokdError, match=r"labels \['z'\] are not in task 'abc'"):
        train_student(LETTERS, samples, StudentConfig(), tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_each_label_gloss_is_one_more_gold_sample_of_a_classification_task() -> None:
    seeds = [ClassificationSample(text="alpha", label="a")]
    trained = with_glosses(LETTERS, seeds, StudentConfig())
    assert trained[0] == seeds[0]
    assert [(s.text, s.label, s.provenance.origin) for s in trained[1:]] == [
        ("a: a", "a", "gloss"), ("b: b", "b", "gloss"), ("c: c", "c", "gloss")]
    assert with_glosses(LETTERS, seeds, StudentConfig(glosses=False)) == seeds
    sentence = NerSample(tokens=["Ann", "ran"], tags=["B-PER", "O"])
    assert with_glosses(NEWS, [sentence], StudentConfig()) == [sentence]  # NER learns from tagged sentences only


def test_the_training_log_and_the_card_count_the_glosses_apart_from_the_samples(tmp_path: Path) -> None:
    samples = [ClassificationSample(text=text, label=label) for text, label in (("aa", "a"), ("bb", "b"))]
    train_student(LETTERS, samples, TINY, tmp_path / "model")
    log = json.loads((tmp_path / "model" / "train_log.json").read_text(encoding="utf-8"))
    assert (log["samples"], log["glosses"]) == (2, 3)
    assert log["data"]["origins"] == {"seed": 2}  # the data summary describes the caller's samples
    assert "Trained on 2 samples and 3 label glosses" in (tmp_path / "model" / "README.md").read_text()
