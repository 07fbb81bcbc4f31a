"""evokd: Evolving Knowledge Distillation (EvoKD) as a data-versioned DVC pipeline."""

__version__ = "0.1.0"
