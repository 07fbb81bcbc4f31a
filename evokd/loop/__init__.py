"""The EvoKD round: analyze the student's probe, generate inputs aimed at it, label them, train further."""
