"""Evaluation of embedding models on PatenTEB with mteb: task definitions (`evaluator.tasks`), the embedding
cache, and the runner that evaluates one model and writes its scores into the results store."""
