"""The training loop, in modules: config (what a run is given and reports), data (encoding, batches),
schedule (learning rate, progress), checkpoints (atomic, resumable), threads (CPU thread tuning), loss,
and loop (`train`). Plain Python; torch is imported where it is used. Nothing is re-exported here."""
