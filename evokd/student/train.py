"""Fine-tune the student with the Hugging Face Trainer, continuing from the previous round's checkpoint.

Speed on CPU comes from padding less, not from a custom loop: batches are padded dynamically and the
training order groups examples of similar length (`train_sampling_strategy="group_by_length"`).
`benchmarks/student_speed.py` measures this against a plain Trainer. The checkpoint is a plain
`save_pretrained` folder (weights, config with id2label/label2id, tokenizer) without optimizer state, so
`transformers.pipeline(...)` loads it as it is. A run lasts at least `min_steps` optimizer steps, more for many
labels (few samples need more steps than their epochs give); classification trains on targets and weights from
evokd.student.targets, and on each label's gloss as one more sample (`student.glosses`): with one seed per label,
the task file's descriptions are half of what the student knows about a label.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evokd import interrupts
from evokd.data import ClassificationSample, Provenance, Sample, TaskSpec, save_task
from evokd.errors import EvokdError
from evokd.io import atomic_directory
from evokd.student.card import TASK_FILE, data_summary, write_model_card
from evokd.student.config import StudentConfig, head_rate, resolve_base_model
from evokd.student.encoding import check_labels, encode, label_list, load_tokenizer
from evokd.student.targets import TargetCollator, add_targets, target_trainer

TRAIN_LOG = "train_log.json"


def load_model(source: str | Path, task: TaskSpec) -> tuple[Any, Any]:
    """Model with a head for the task's labels, and its fast tokenizer (NER needs word_ids())."""
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    names = label_list(task)
    auto = AutoModelForTokenClassification if task.kind == "ner" else AutoModelForSequenceClassification
    model = auto.from_pretrained(source, num_labels=len(names), id2label=dict(enumerate(names)),
                                 label2id={name: i for i, name in enumerate(names)})
    return model, load_tokenizer(source)


def collator(task: TaskSpec, tokenizer: Any) -> Any:
    """Dynamic padding: each batch is padded to its own longest example (labels with -100 for NER)."""
    from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

    if task.kind == "ner":
        return DataCollatorForTokenClassification(tokenizer)
    return DataCollatorWithPadding(tokenizer)


def with_glosses(task: TaskSpec, samples: Sequence[Sample], config: StudentConfig) -> list[Sample]:
    """The samples, and with `glosses` on a classification task one gold sample per label: its gloss."""
    if not config.glosses or task.kind != "classification":
        return list(samples)
    glosses = [ClassificationSample(text=label.gloss, label=label.name, provenance=Provenance(origin="gloss"))
               for label in task.labels]
    return [*samples, *glosses]


def training_steps(config: StudentConfig, n_samples: int, n_labels: int) -> int:
    """Optimizer steps of a run: `epochs` passes (the Trainer's count, ceil(N / batch_size) steps per pass), but
    at least `min_steps` and `min_steps_per_label` x labels. On a few dozen samples the epochs alone give a handful
    of steps, too few to learn; a head of many labels needs more of them than a head of two."""
    floor = max(config.min_steps, config.min_steps_per_label * n_labels)
    return max(floor, math.ceil(config.epochs * math.ceil(n_samples / config.batch_size)))


def training_arguments(config: StudentConfig, output_dir: str, seed: int, group_by_length: bool,
                       max_steps: int = -1) -> Any:
    """TrainingArguments for a run that saves nothing itself: mixed precision on a GPU, fp32 on the CPU.

    `max_steps` -1 trains `config.epochs` epochs. transformers 5 has no `warmup_ratio`: a float `warmup_steps`
    in [0, 1) is the share of the total steps. Extra feature columns (targets, weights) are kept for the collator.
    """
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    return TrainingArguments(
        output_dir=output_dir, num_train_epochs=config.epochs, max_steps=max_steps,
        per_device_train_batch_size=config.batch_size, remove_unused_columns=False,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear", seed=seed, data_seed=seed, bf16=bf16, fp16=cuda and not bf16,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        save_strategy="no", eval_strategy="no", report_to="none", logging_strategy="steps", logging_steps=0.2,
        dataloader_pin_memory=cuda, disable_tqdm=not sys.stderr.isatty(),  # a bar for people, not CI logs
    )


def is_head(name: str, model: Any) -> bool:
    """A parameter of the task head: outside the base encoder (the classifier), or the encoder's pooler."""
    return not name.startswith(f"{model.base_model_prefix}.") or ".pooler." in name


def use_head_rate(trainer: Any, rate: float) -> None:
    """Give the head parameters their own learning rate: the Trainer's optimizer (its weight-decay groups), each
    group split into encoder and head parts. The scheduler, built later from these groups, warms up and decays both."""
    head = {id(p) for name, p in trainer.model.named_parameters() if is_head(name, trainer.model)}
    groups = []
    for group in trainer.create_optimizer().param_groups:
        for part, lr in ((False, group["lr"]), (True, rate)):
            params = [p for p in group["params"] if (id(p) in head) == part]
            if params:
                groups.append({**group, "params": params, "lr": lr})
    trainer.optimizer = type(trainer.optimizer)(groups)


def train_student(task: TaskSpec, samples: Sequence[Sample], config: StudentConfig, out_dir: str | Path,
                  init_from: str | Path | None = None, seed: int = 13) -> dict[str, Any]:
    """Train on `samples` (the caller mixes in replay and seeds; the labels' glosses are added here) and write the
    checkpoint to out_dir atomically.

    Starts from `init_from` (the previous round's checkpoint, whose labels must be the task's) or from
    `config.base_model`. Returns the training log, which is also saved as train_log.json in the checkpoint
    (there with a `data` provenance summary), next to task.yaml and a model card (README.md).
    """
    from transformers import Trainer, TrainerCallback, set_seed

    class StopOnSignal(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            interrupts.exit_if_signalled()

    if not samples:
        raise EvokdError("no training samples")
    trained = with_glosses(task, samples, config)
    set_seed(seed)
    if init_from is not None:
        check_labels(init_from, task)
    source = str(init_from) if init_from is not None else resolve_base_model(config.base_model)
    model, tokenizer = load_model(source, task)
    features = encode(task, trained, tokenizer, config.max_length)
    steps = training_steps(config, len(features), len(label_list(task)))
    head_learning_rate = head_rate(config, len(label_list(task)))
    with tempfile.TemporaryDirectory(prefix="evokd-train-") as scratch:
        kwargs = {"model": model, "processing_class": tokenizer, "callbacks": [StopOnSignal()],
                  "args": training_arguments(config, scratch, seed, group_by_length=True, max_steps=steps)}
        if task.kind == "ner":
            trainer = Trainer(train_dataset=features, data_collator=collator(task, tokenizer), **kwargs)
        else:
            trainer = target_trainer(train_dataset=add_targets(features, trained, label_list(task), config),
                                     data_collator=TargetCollator(tokenizer), **kwargs)
        if head_learning_rate != config.learning_rate:
            use_head_rate(trainer, head_learning_rate)
        result = trainer.train()
    log = {
        "samples": len(samples),
        "glosses": len(trained) - len(samples),
        "init_from": str(init_from) if init_from is not None else None,
        "base_model": config.base_model,
        "seed": seed,
        "device": str(trainer.args.device),
        "epochs": round(trainer.state.epoch, 3),  # actually run: more than config.epochs when min_steps decides
        "steps": result.global_step,
        "head_learning_rate": head_learning_rate,
        "train_loss": result.training_loss,
        "train_runtime_s": result.metrics["train_runtime"],
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "config": config.model_dump(),
    }
    with atomic_directory(out_dir) as tmp:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / TRAIN_LOG).write_text(json.dumps({**log, "data": data_summary(samples)}, indent=2) + "\n",
                                     encoding="utf-8")
        save_task(tmp / TASK_FILE, task)
        write_model_card(tmp)
    return log
