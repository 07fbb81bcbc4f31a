"""The `loop:` section of params.yaml: sizes of each round and the ablation switches of the paper."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LoopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_hard: int = Field(8, ge=0, description="inputs per round aimed at the student's weaknesses")
    n_easy: int = Field(4, ge=0, description="inputs per round on mastered cases (guards against forgetting)")
    min_hard_per_label: int = Field(1, ge=0, description="hard inputs every label gets per round (a floor); with "
                                    "fewer hard inputs than labels x floor, the labels take turns over rounds")
    select_factor: int = Field(3, ge=1, description="ask for k x the plan and keep, per planned (intent, stance), "
                               "the inputs the previous student is least sure of; 1: no selection")
    retrieval_k: int = Field(0, ge=0, description="real texts of the unlabelled pool shown to every generation "
                             "request as examples of the domain's style (retrieved per request); 0: none")
    n_unlabelled: int = Field(0, ge=0, description="unlabelled pool texts per round that the previous student is "
                              "least sure of, labelled by the teacher with the generated inputs; 0: none")
    n_mistakes: int = Field(0, ge=0, description="texts of its label the previous student got wrong (most confident "
                            "first, in turn) shown to each hard generation request in place of as many pool "
                            "examples, so hard inputs are like the student's mistakes; classification; 0: none "
                            "(2 measured lower on rotten_tomatoes: benchmarks/results/README.md)")
    n_wrong: int = Field(6, ge=0, description="wrong probe predictions shown to the analysis")
    n_correct: int = Field(4, ge=0, description="right probe predictions shown (when include_correct)")
    history: int = Field(2, ge=0, description="earlier analyses shown to the analysis")
    use_easy: bool = True
    include_correct: bool = True
    train_from: Literal["base", "previous"] = Field(
        "base", description="base: each round trains a fresh student from the base encoder on the seeds and all "
        "teacher data so far (measured steadier: README); previous: the previous round's student goes on training "
        "on the batch + `review_size` samples of earlier rounds")
    review: bool = True
    review_size: int = Field(16, ge=0, description="samples of earlier rounds reviewed per training round "
                             "(train_from: previous; from the base every earlier sample is)")
    separate_labeling: bool = True
    init: bool = False
    n_init: int = Field(2, ge=0, description="paraphrases per seed for the init warm-up (EvoKD+Init)")
    disagreement: Literal["auto", "keep_teacher", "drop", "keep_intent", "mask"] = Field(
        "auto", description="when the teacher's label is not the one the input was written for (NER: other "
        "entities than the sentence's inline markup named): keep the teacher's, drop the input, keep the intended "
        "label / the markup's entities, or (NER) keep the teacher's and leave the disputed words out of the loss; "
        "auto: drop where the teacher picks one of many labels (shortlist, choice: neither its pick nor the "
        "written-for label alone is reliable on BANKING77; where they agree they are), else keep_teacher")
    calibration: Literal["anchored", "batch", "contextual", "none"] = Field(
        "anchored", description="how the teacher's label probabilities are calibrated: by the prior of the "
        "bootstrap batch (written for the labels in turn) in every round, over each round's own batch (wrong when "
        "a round's inputs lean to one label), against a content-free input, or not at all")
    max_scored_labels: int = Field(16, ge=1, description="labels of several tokens are scored one request per "
                                   "label up to this many; above it, with `shortlist: 0`, the teacher picks one "
                                   "under the choice constraint and only its probability is kept (no calibration)")
    shortlist: int = Field(8, ge=0, description="above max_scored_labels: the teacher picks one of the k labels a "
                           "sentence encoder puts nearest each input (the written-for label always among them), in a "
                           "prompt that lists only those; 0: one of all labels (evokd/loop/shortlist.py)")
    shortlist_encoder: str = Field("bundled:all-minilm-l6-v2", description="the sentence encoder of the shortlist "
                                   "(a bundled encoder, a hub id or a folder)")
    min_confidence: float = Field(0.0, ge=0, lt=1, description="drop teacher labels whose calibrated top "
                                  "probability is below this")
    demo_chars: int = Field(1500, ge=0, description="gold seeds shown to the labelling call as demonstrations, "
                            "as many as fit in this many characters (0: none)")
    min_chars: int = Field(12, ge=1)
    max_chars: int = Field(300, ge=1)
    near_dup_threshold: float = Field(0.9, gt=0, le=1)

    @model_validator(mode="after")
    def _lengths_ordered(self) -> LoopConfig:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) must not exceed max_chars ({self.max_chars})")
        return self

    @model_validator(mode="after")
    def _unlabelled_needs_labelling(self) -> LoopConfig:
        if self.n_unlabelled and not self.separate_labeling:
            raise ValueError("n_unlabelled needs separate_labeling: the label stage's teacher calls label those texts")
        return self

    @property
    def easy_count(self) -> int:
        return self.n_easy if self.use_easy else 0
