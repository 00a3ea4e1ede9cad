"""The training app's models, one module per concern; Django finds them through this package."""

from training.models.base_models import BaseModelImport
from training.models.deployments import Deployment
from training.models.examples import ImportBatch, TrainingExample
from training.models.registry import ModelAlias, ModelAliasEvent, ModelEvaluation, SLMModel
from training.models.reviews import Review, ReviewClaim, ReviewPolicy
from training.models.runs import TrainingMetric, TrainingRun, TrainingRunEvent
from training.models.similarity import ExampleFingerprint, SimilarityIndexBuild
from training.models.snapshots import Dataset, DatasetExport, DatasetItem

__all__ = [
    "BaseModelImport",
    "Dataset",
    "DatasetExport",
    "DatasetItem",
    "Deployment",
    "ExampleFingerprint",
    "ImportBatch",
    "ModelAlias",
    "ModelAliasEvent",
    "ModelEvaluation",
    "Review",
    "ReviewClaim",
    "ReviewPolicy",
    "SLMModel",
    "SimilarityIndexBuild",
    "TrainingExample",
    "TrainingMetric",
    "TrainingRun",
    "TrainingRunEvent",
]
