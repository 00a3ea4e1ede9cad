"""Dramatiq actors for training data and models: ids in, one claim (core.jobs), a service call."""

from __future__ import annotations

import dramatiq
from django.conf import settings

from core.jobs.actor import job_actor
from core.jobs.periodic import register_periodic
from training.models import (
    BaseModelImport,
    DatasetExport,
    ImportBatch,
    ModelEvaluation,
    SimilarityIndexBuild,
    TrainingRun,
)
from training.services.base_model_sweep import base_model_sweep
from training.services.base_models import base_model_import_execute
from training.services.demo import demo_index_when_trained, demo_pipeline_run
from training.services.deployments import deployment_check_all
from training.services.evaluations import model_evaluation_execute
from training.services.import_run import import_batch_execute
from training.services.runs import training_run_execute
from training.services.similarity import similarity_index_build_execute
from training.services.snapshot_export import dataset_export_execute, dataset_export_state


@job_actor(ImportBatch, queue_name="imports", time_limit=4 * 3600 * 1000)
def run_import(batch: ImportBatch) -> None:
    import_batch_execute(batch=batch)  # a re-run starts from the top: imports are idempotent


@job_actor(BaseModelImport, queue_name="imports", time_limit=4 * 3600 * 1000, select_related=("created_by",))
def import_base_model(job: BaseModelImport) -> None:
    base_model_import_execute(job=job)  # a re-run stages afresh: nothing is kept between tries


# What killed imports leave behind (staging folders, uploads, unreferenced artifacts), hourly in every worker.
register_periodic("base-model sweep", 3600, base_model_sweep)
# Each alias's deployment health (endpoint, latency, last error), in every worker.
register_periodic("deployment health", settings.DEPLOYMENT_CHECK_INTERVAL_S, deployment_check_all)


@job_actor(
    DatasetExport,
    queue_name="imports",
    time_limit=3600 * 1000,
    select_related=("dataset",),
    on_state=dataset_export_state,
)
def export_dataset(export: DatasetExport) -> None:
    dataset_export_execute(export=export)  # a re-run resumes after the shards already stored


@job_actor(
    TrainingRun, queue_name="training", time_limit=24 * 3600 * 1000, select_related=("dataset", "base_model")
)
def train_model(run: TrainingRun) -> None:
    training_run_execute(run=run)  # a re-run resumes from the newest complete checkpoint


@job_actor(
    ModelEvaluation,
    queue_name="training",
    time_limit=3600 * 1000,
    select_related=("model_version", "dataset"),
)
def evaluate_model(evaluation: ModelEvaluation) -> None:
    model_evaluation_execute(evaluation=evaluation)


# Not a job row: `make run`'s demo pipeline, which queues ordinary jobs of its own.
@dramatiq.actor(queue_name="training", max_retries=0, time_limit=3600 * 1000)
def demo_pipeline(corpus_size: int, budget_seconds: int, owner_id: str) -> None:
    run = demo_pipeline_run(corpus_size=corpus_size, budget_seconds=budget_seconds, owner_id=owner_id)
    if run is not None:  # within this actor's time limit: the training, its evaluation and a margin
        demo_index_when_trained(run_id=run.pk, limit_s=min(3000, 4 * budget_seconds + 600))


@job_actor(SimilarityIndexBuild, queue_name="imports", time_limit=6 * 3600 * 1000)
def build_similarity_index(build: SimilarityIndexBuild) -> None:
    similarity_index_build_execute(build=build)  # a re-run fingerprints only what is still missing
