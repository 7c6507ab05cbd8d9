"""Evaluation: metrics (pure functions on arrays), the back-translation recognizer, benchmarks."""
