"""Evaluation: back-translation and pose metrics of a trained model (metrics in signllm.metrics)."""
