"""Label shortlists for tasks with many labels (BANKING77's 77): the teacher picks one of a few likely labels
instead of one of all of them.

Picking one of 77 label words under the choice constraint commits to a first token greedily among many words
that share it, in a prompt that lists all 77: the 1.5B teacher gave `get_physical_card` to 13 of 35 inputs and
disagreed with the written-for label on 18 (benchmarks/results/README.md). Scoring every label whole costs one
full prompt per label and input (vLLM does not reuse its prefix cache for prompt log-probs). A sentence encoder
narrows the labels first: a label is the mean of the normalised embeddings of its verbalizer with its description
and of its gold seeds, and a text's shortlist is the k labels nearest to it (cosine), the label it was written
for always among them. The labelling prompt lists only those, and the teacher picks one of them.
`python benchmarks/label_shortlist.py` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import AutoModel, AutoTokenizer

from evokd.data import ClassificationSample, Sample, TaskSpec
from evokd.student.config import resolve_base_model

BATCH = 64
MAX_LENGTH = 128


class Shortlister:
    """Label prototypes of a task in a sentence encoder's space; `shortlists` ranks the labels for texts."""

    def __init__(self, task: TaskSpec, seeds: Sequence[Sample], encoder: str) -> None:
        source = resolve_base_model(encoder)
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModel.from_pretrained(source).eval()
        self.names = task.label_names
        examples = {name: [] for name in self.names}
        for seed in seeds:
            if isinstance(seed, ClassificationSample) and seed.label in examples:
                examples[seed.label].append(seed.text)
        prototypes = []
        for label in task.labels:
            vectors = self.embed([label.gloss, *examples[label.name]])
            prototypes.append(vectors.mean(dim=0))
        self.prototypes = torch.nn.functional.normalize(torch.stack(prototypes), dim=-1)

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Normalised mean-pooled embeddings (how sentence encoders such as all-MiniLM-L6-v2 were trained)."""
        out = []
        for start in range(0, len(texts), BATCH):
            batch = self.tokenizer(list(texts[start:start + BATCH]), padding=True, truncation=True,
                                   max_length=MAX_LENGTH, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(out)

    def shortlists(self, texts: Sequence[str], k: int, intents: Sequence[str | None]) -> list[list[str]]:
        """Per text, the k labels nearest to it in the task's label order; a text's intent (the label it was
        written for) takes the place of the k-th nearest when it is not among them."""
        if not texts:
            return []
        ranks = (self.embed(texts) @ self.prototypes.T).argsort(dim=1, descending=True)[:, :k].tolist()
        out = []
        for rank, intent in zip(ranks, intents, strict=True):
            chosen = [self.names[index] for index in rank]
            if intent is not None and intent not in chosen:
                chosen[-1] = intent
            out.append([name for name in self.names if name in chosen])
        return out
