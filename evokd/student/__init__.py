"""The student: a Hugging Face encoder fine-tuned for classification or NER, round after round."""
