"""Writes of the training app, one module per capability: imports, curation, snapshots, patterns (expansion
into examples), runs, registry (versions and aliases), evaluations, and the demo pipeline.

Import from the module that owns a write (`from training.services.runs import training_run_create`);
this package re-exports nothing.
"""
