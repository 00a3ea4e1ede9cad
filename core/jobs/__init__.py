"""One job framework for every kind of background job: imports, dataset exports, training runs,
evaluations and generations.

A job is a database row (models.Job): the row, never the broker, is the source of truth. Each kind is
declared once with `actor.job_actor(Model, queue_name=..., time_limit=...)`, which claims the row, keeps
its heartbeat while the work runs, hands it back when the worker is interrupted, and registers the kind
so that `recovery` re-sends what a dead worker or a lost broker left behind.

Modules: models (the abstract row, one status vocabulary), lifecycle (claim, finish, release, reap),
heartbeat (one thread per process beats every claimed row), kinds (the registry, enqueueing by row),
actor (the decorator, and `job_run` for running a job in-process), recovery (re-sending lost jobs),
middleware (the worker's reaper thread).
"""
