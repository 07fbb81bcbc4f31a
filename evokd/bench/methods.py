"""The methods a bench compares, in one place: the baselines (stages of benchmarks/dvc.yaml), the loop variants
(ablations, one experiment each), their table labels and their order in the tables."""

from __future__ import annotations

from typing import Any

BASELINES = ("seeds", "seeds_rounds", "auggpt", "static", "teacher", "fullshot")
LABELS = {"evokd": "EvoKD", "static": "Static (ZeroGen-style)", "auggpt": "AugGPT", "seeds": "Seeds only",
          "seeds_rounds": "Seeds only, retrained each round",
          "teacher": "Teacher zero-shot", "fullshot": "Full-shot student (upper bound)"}
# method -> (table label, param, value): one extra experiment per variant, the loop only, in the order they run:
# the options of this implementation turned away from their defaults, then the paper's five ablation switches.
ABLATIONS: dict[str, tuple[str, str, bool | int | str]] = {
    "retrieval": ("EvoKD, 3 retrieved unlabelled texts per generation prompt", "loop.retrieval_k", 3),
    "unlabelled": ("EvoKD + 4 least-confident unlabelled texts labelled per round", "loop.n_unlabelled", 4),
    "uncalibrated": ("EvoKD w/o label calibration", "loop.calibration", "none"),
    "batch_calibrated": ("EvoKD, each round calibrated by its own batch", "loop.calibration", "batch"),
    "no_select": ("EvoKD w/o over-generation and selection (one candidate per input)", "loop.select_factor", 1),
    "mistakes": ("EvoKD, 2 of the student's mistakes shown per hard request", "loop.n_mistakes", 2),
    "soft": ("EvoKD, soft targets (teacher probs)", "student.target", "soft"),
    "weighted": ("EvoKD, confidence-weighted loss", "student.weighting", "confidence"),
    "contextual": ("EvoKD, contextual calibration", "loop.calibration", "contextual"),
    "drop_disagreement": ("EvoKD, inputs the teacher labels against their intent dropped (NER: against their "
                          "markup)", "loop.disagreement", "drop"),
    "no_easy": ("EvoKD w/o easy inputs", "loop.use_easy", False),
    "no_correct": ("EvoKD w/o correct probe rows", "loop.include_correct", False),
    "no_review": ("EvoKD w/o review (replay)", "loop.review", False),
    "joint_labeling": ("EvoKD w/o separate labelling", "loop.separate_labeling", False),
    "init": ("EvoKD+Init", "loop.init", True),
}
ORDER = ("evokd", *ABLATIONS, "static", "auggpt", "seeds", "seeds_rounds", "teacher", "fullshot")
Record = dict[str, Any]  # one method on one seed: method, seed, score, teacher_tokens, wall_s, curve, diagnostics


def method_label(method: str) -> str:
    return ABLATIONS[method][0] if method in ABLATIONS else LABELS.get(method, method)
