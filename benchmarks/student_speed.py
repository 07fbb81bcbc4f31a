"""Student speed: our trainer and predictor vs a plain `transformers.Trainer` on the same data and model.

Ours: `evokd.student.train.train_student` (Trainer with length-grouped batches and dynamic padding) and
`evokd.student.predict.predict` (length-sorted inference loop). Plain: `Trainer` with its default random
order and `DataCollatorWithPadding` / `DataCollatorForTokenClassification`, and `Trainer.predict`.
Both sides are timed end to end (load, tokenize, train, save / load, tokenize, predict) on the same samples,
alternating, and the best of `--repeats` runs counts. Prints one JSON object; the target is ratio >= 1.0.

    python benchmarks/student_speed.py [--benchmark rotten_tomatoes] [--train-samples 512] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from evokd.benchmarks import load_benchmark, task_spec
from evokd.data import Sample, TaskSpec
from evokd.student.config import StudentConfig, resolve_base_model
from evokd.student.encoding import encode
from evokd.student.predict import predict
from evokd.student.train import collator, load_model, train_student, training_arguments


def plain_train(task: TaskSpec, samples: list[Sample], config: StudentConfig, out_dir: Path, seed: int) -> None:
    from transformers import Trainer, set_seed

    set_seed(seed)
    model, tokenizer = load_model(resolve_base_model(config.base_model), task)
    trainer = Trainer(model=model, args=training_arguments(config, str(out_dir / "scratch"), seed, False),
                      train_dataset=encode(task, samples, tokenizer, config.max_length),
                      data_collator=collator(task, tokenizer), processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(out_dir / "model"))


def plain_predict(task: TaskSpec, checkpoint: Path, samples: list[Sample]) -> None:
    from transformers import Trainer, TrainingArguments

    model, tokenizer = load_model(checkpoint, task)
    args = TrainingArguments(output_dir=str(checkpoint.parent / "predict"), per_device_eval_batch_size=64,
                             report_to="none", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, data_collator=collator(task, tokenizer), processing_class=tokenizer)
    limit = min(tokenizer.model_max_length, model.config.max_position_embeddings)
    trainer.predict(encode(task, samples, tokenizer, limit))


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="rotten_tomatoes")
    parser.add_argument("--train-samples", type=int, default=512)
    parser.add_argument("--predict-samples", type=int, default=1024)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()

    import torch

    task = task_spec(options.benchmark)
    splits = load_benchmark(options.benchmark)
    train = random.Random(options.seed).sample(splits["train"], options.train_samples)
    test = random.Random(options.seed).sample(splits["test"], options.predict_samples)
    config = StudentConfig(epochs=options.epochs)
    best = {"ours_train": float("inf"), "plain_train": float("inf"),
            "ours_predict": float("inf"), "plain_predict": float("inf")}
    with tempfile.TemporaryDirectory(prefix="evokd-speed-") as scratch:
        root = Path(scratch)
        for repeat in range(options.repeats):
            runs = {
                "ours_train": lambda: train_student(task, train, config, root / "ours", seed=options.seed),
                "plain_train": lambda: plain_train(task, train, config, root / "plain", options.seed),
                "ours_predict": lambda: predict(root / "ours", task, test),
                "plain_predict": lambda: plain_predict(task, root / "ours", test),
            }
            order = list(runs) if repeat % 2 == 0 else ["plain_train", "ours_train", "plain_predict", "ours_predict"]
            for name in order:
                best[name] = min(best[name], timed(runs[name]))
    trained = options.train_samples * options.epochs
    result = {
        "benchmark": options.benchmark, "train_samples": options.train_samples, "epochs": options.epochs,
        "predict_samples": options.predict_samples, "torch_threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu", "repeats": options.repeats,
        "train_samples_per_s": {"ours": trained / best["ours_train"], "plain": trained / best["plain_train"]},
        "predict_sentences_per_s": {"ours": options.predict_samples / best["ours_predict"],
                                    "plain": options.predict_samples / best["plain_predict"]},
    }
    for key in ("train_samples_per_s", "predict_sentences_per_s"):
        result[key] = {side: round(value, 2) for side, value in result[key].items()}
        result[key]["ratio_ours_plain"] = round(result[key]["ours"] / result[key]["plain"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
