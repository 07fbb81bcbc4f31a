"""Soft targets, confidence weights and the step floor: the loss on hand-made cases, the features the collator
batches, and a 4-sample training run that must run the floor's number of steps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from shared import LETTERS, NEWS

from evokd.benchmarks import task_spec
from evokd.data import ClassificationSample, NerSample
from evokd.errors import EvokdError
from evokd.student.config import StudentConfig, head_rate, resolve_base_model
from evokd.student.encoding import encode
from evokd.student.targets import (
    TARGETS,
    WEIGHTS,
    TargetCollator,
    add_targets,
    sample_weight,
    soft_cross_entropy,
    target_distribution,
)
from evokd.student.train import (
    TRAIN_LOG,
    load_model,
    train_student,
    training_arguments,
    training_steps,
    use_head_rate,
)

LABELS = LETTERS.label_names
TEACHER = ClassificationSample(text="x", label="b", probs={"a": 0.2, "b": 0.7, "c": 0.1}, confidence=0.7)
GOLD = ClassificationSample(text="y", label="c")


def test_soft_loss_is_the_cross_entropy_to_the_given_distribution() -> None:
    import torch

    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = [0.25, 0.75]
    target = torch.tensor([[0.5, 0.5]])
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert soft_cross_entropy(logits, target, torch.ones(1)).item() == pytest.approx(expected)


def test_one_hot_targets_give_the_plain_cross_entropy() -> None:
    import torch

    logits = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    one_hot = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    plain = torch.nn.functional.cross_entropy(logits, torch.tensor([2, 1]))
    assert soft_cross_entropy(logits, one_hot, torch.ones(2)).item() == pytest.approx(plain.item())


def test_weights_scale_each_samples_loss() -> None:
    import torch

    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    targets = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # sample 0 is badly wrong, sample 1 nearly right
    per_sample = [soft_cross_entropy(logits[i:i + 1], targets[i:i + 1], torch.ones(1)).item() for i in (0, 1)]
    weighted = soft_cross_entropy(logits, targets, torch.tensor([0.5, 1.0])).item()
    assert weighted == pytest.approx((0.5 * per_sample[0] + per_sample[1]) / 2)
    assert soft_cross_entropy(logits, targets, torch.tensor([2.0, 2.0])).item() == pytest.approx(
        2 * soft_cross_entropy(logits, targets, torch.ones(2)).item())


def test_target_distribution_soft_hard_and_gold_fallback() -> None:
    assert target_distribution(TEACHER, LABELS, "soft") == pytest.approx([0.2, 0.7, 0.1])
    assert target_distribution(TEACHER, LABELS, "hard") == [0.0, 1.0, 0.0]
    assert target_distribution(GOLD, LABELS, "soft") == [0.0, 0.0, 1.0]  # no probs: one-hot on the gold label
    partial = TEACHER.model_copy(update={"probs": {"a": 1.0, "b": 3.0}})
    assert target_distribution(partial, LABELS, "soft") == pytest.approx([0.25, 0.75, 0.0])  # renormalised


def test_target_distribution_refuses_bad_probs() -> None:
    with pytest.raises(EvokdError, match=r"labels \['z'\] that the task lacks"):
        target_distribution(TEACHER.model_copy(update={"probs": {"z": 1.0}}), LABELS, "soft")
    with pytest.raises(EvokdError, match="not a distribution"):
        target_distribution(TEACHER.model_copy(update={"probs": {"a": 0.0}}), LABELS, "soft")


def test_sample_weight_is_confidence_or_one() -> None:
    assert sample_weight(TEACHER, "confidence") == 0.7
    assert sample_weight(TEACHER, "none") == 1.0
    assert sample_weight(GOLD, "confidence") == 1.0
    assert sample_weight(NerSample(tokens=["Ann"], tags=["B-PER"]), "confidence") == 1.0  # per sentence: 1.0


@pytest.mark.slow
def test_soft_target_trains_an_ner_student_on_its_tags(tmp_path: Path) -> None:
    """The shared default `target: soft` must not stop an NER run: its sentences train on their tags."""
    sentence = NerSample(tokens=["Ann", "flew", "to", "Oslo"], tags=["B-PER", "O", "O", "B-LOC"])
    config = StudentConfig(target="soft", weighting="confidence", min_steps=4, min_steps_per_label=0, batch_size=1,
                           max_length=16)
    log = train_student(NEWS, [sentence], config, tmp_path / "model", seed=0)
    assert log["steps"] == 4 and (tmp_path / "model" / TRAIN_LOG).exists()


def test_collator_pads_dynamically_and_carries_targets_and_weights() -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model("bundled:all-minilm-l6-v2"))
    samples = [TEACHER.model_copy(update={"text": "a rather longer sentence than the other"}), GOLD]
    config = StudentConfig(target="soft", weighting="confidence")
    features = add_targets(encode(LETTERS, samples, tokenizer, 32), samples, LABELS, config)
    batch = TargetCollator(tokenizer)(features)
    longest = max(len(f["input_ids"]) for f in features)
    assert tuple(batch["input_ids"].shape) == (2, longest) < (2, 32)
    assert batch[TARGETS].flatten().tolist() == pytest.approx([0.2, 0.7, 0.1, 0.0, 0.0, 1.0])
    assert batch[WEIGHTS].tolist() == pytest.approx([0.7, 1.0])


def test_training_steps_floor_and_epochs() -> None:
    assert training_steps(StudentConfig(epochs=3, batch_size=16, min_steps=0, min_steps_per_label=0), 24, 2) == 6
    assert training_steps(StudentConfig(epochs=3, batch_size=16, min_steps=60), 24, 2) == 60
    assert training_steps(StudentConfig(epochs=1, batch_size=16, min_steps=60), 10_000, 2) == 625
    assert training_steps(StudentConfig(epochs=0.5, batch_size=4, min_steps=0, min_steps_per_label=0), 10, 2) == 2
    # many labels raise the floor: 77 BANKING77 intents x 4, above min_steps; 2 labels x 4 stay below it
    assert training_steps(StudentConfig(epochs=3, batch_size=16, min_steps=60), 77, 77) == 308
    assert training_steps(StudentConfig(epochs=3, batch_size=16, min_steps=60, min_steps_per_label=0), 77, 77) == 60


def test_warmup_is_a_share_of_the_steps(tmp_path: Path) -> None:
    args = training_arguments(StudentConfig(warmup_ratio=0.1), str(tmp_path), 0, True, max_steps=60)
    assert (args.max_steps, args.get_warmup_steps(60)) == (60, 6)
    assert training_arguments(StudentConfig(warmup_ratio=0.0), str(tmp_path), 0, True).get_warmup_steps(60) == 0


@pytest.mark.slow
def test_four_samples_with_a_floor_of_ten_run_ten_steps(tmp_path: Path) -> None:
    """A real (tiny) run through the soft, weighted path: 4 samples and the 2 labels' glosses, batch 4, 3 epochs
    would be 6 steps."""
    task = task_spec("rotten_tomatoes")
    samples = [ClassificationSample(text="great fun", label="fresh"), ClassificationSample(text="dull", label="rotten"),
               ClassificationSample(text="a delight", label="fresh", probs={"fresh": 0.7, "rotten": 0.3},
                                    confidence=0.7),
               ClassificationSample(text="a mess", label="rotten", probs={"fresh": 0.2, "rotten": 0.8},
                                    confidence=0.8)]
    config = StudentConfig(min_steps=10, batch_size=4, max_length=16, target="soft", weighting="confidence")
    log = train_student(task, samples, config, tmp_path / "model", seed=0)
    assert (log["samples"], log["glosses"], log["steps"], log["epochs"]) == (4, 2, 10, 5.0)
    assert 0 < log["train_loss"] < math.log(2) + 0.1  # soft CE of a 2-label head starts near ln 2
    saved = json.loads((tmp_path / "model" / TRAIN_LOG).read_text(encoding="utf-8"))
    assert saved["steps"] == 10 and saved["config"]["min_steps"] == 10
    assert saved["head_learning_rate"] == 1e-4 and saved["config"]["head_learning_rate"] == "auto"  # 2 labels


def test_head_trains_at_its_own_rate_through_warmup_and_decay(tmp_path: Path) -> None:
    """Classifier and pooler get `head_learning_rate`, the encoder `learning_rate`; the weight-decay split stays, and
    the Trainer's scheduler (built later, from these groups) keeps the ratio at every step."""
    from transformers import Trainer

    config = StudentConfig(learning_rate=1e-4, head_learning_rate=1e-3, weight_decay=0.01)
    model, _ = load_model(resolve_base_model(config.base_model), LETTERS)
    trainer = Trainer(model=model, args=training_arguments(config, str(tmp_path), 0, False, max_steps=10))
    use_head_rate(trainer, config.head_learning_rate)
    names = {id(p): name for name, p in model.named_parameters()}
    rates = {names[id(p)]: (group["lr"], group["weight_decay"]) for group in trainer.optimizer.param_groups
             for p in group["params"]}
    assert len(rates) == len(names) == sum(len(g["params"]) for g in trainer.optimizer.param_groups)
    assert rates["classifier.weight"] == (1e-3, 0.01) and rates["bert.pooler.dense.bias"] == (1e-3, 0.0)
    assert rates["bert.encoder.layer.0.attention.self.query.weight"] == (1e-4, 0.01)
    assert rates["bert.embeddings.LayerNorm.weight"] == (1e-4, 0.0)
    assert {name for name, (lr, _) in rates.items() if lr == 1e-3} == {
        "classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    scheduler = trainer.create_scheduler(num_training_steps=10, optimizer=trainer.optimizer)
    for _ in range(3):
        trainer.optimizer.step()
        scheduler.step()
        assert {round(lr / min(scheduler.get_last_lr()), 6) for lr in scheduler.get_last_lr()} == {1.0, 10.0}


def test_auto_head_rate_speeds_up_only_heads_of_more_labels_than_a_batch_holds() -> None:
    auto = StudentConfig(learning_rate=1e-4, batch_size=16)
    assert head_rate(auto, 2) == head_rate(auto, 9) == head_rate(auto, 16) == 1e-4  # sentiment, CoNLL tags: as before
    assert head_rate(auto, 77) == pytest.approx(1e-4 * 77 / 16)
    assert head_rate(StudentConfig(head_learning_rate=1e-3), 2) == 1e-3  # a number is used as it is
    for bad in (0, -1e-3, "fast"):
        with pytest.raises(ValueError, match="head_learning_rate"):
            StudentConfig(head_learning_rate=bad)
