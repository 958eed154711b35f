"""Experiment runners over the library (train and evaluate several variants, write docs pages).

Not part of the installed package: run from the repository root, e.g. `python -m
experiments.results` (or `bash scripts/make_results.sh`).
"""
