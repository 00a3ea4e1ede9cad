"""Training's API error codes: imports, snapshots and the models a request names."""

from core.errors import ErrorCode


class TrainingErrorCode(ErrorCode):
    IMPORT_NOT_FOUND = ("import_not_found", 404, "No such import.")
    EXAMPLE_NOT_FOUND = ("example_not_found", 404, "No training example with that id.")
    EMPTY_SNAPSHOT = ("empty_snapshot", 400, "The selection holds no examples to snapshot.")
    UNKNOWN_MODEL = (
        "unknown_model",
        400,
        "No model version or alias by that reference (a version's id, name:version or an alias).",
    )
    UNTUNED_BASE_MODEL = (
        "untuned_base_model",
        400,
        "The model named is an imported base model: fine-tune it on a snapshot before it can draw designs.",
    )
    NOT_LEARNED = (
        "not_learned",
        400,
        "Production would move to a version whose verdict is “not learned”: give override_reason to move it anyway.",
    )
    EMPTY_QUERY = ("empty_query", 400, "The search query holds no words.")
    QUERY_TOO_LONG = ("query_too_long", 400, "The search query is over 500 characters.")
    SIMILARITY_INDEX_MISSING = (
        "similarity_index_missing",
        503,
        "The similarity index is not built yet: a build has been queued. Try again in a few minutes.",
    )
