"""Feedback's API error codes: ratings."""

from core.errors import ErrorCode


class FeedbackErrorCode(ErrorCode):
    FEEDBACK_NOT_FOUND = ("feedback_not_found", 404, "No rating of yours with that id.")
    NOT_RATEABLE = (
        "not_rateable",
        400,
        "The generation has not completed, or was deleted: it cannot be rated.",
    )
