"""Sweep orchestration: CLI, Ray cluster, experiment folder, Tuner, Parquet writer.

Entry point: ``python -m orchestrator --help``.
"""
