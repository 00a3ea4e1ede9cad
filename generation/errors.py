"""Generation's API error codes: generations, their designs and inputs, conversations."""

from core.errors import ErrorCode


class GenerationErrorCode(ErrorCode):
    GENERATION_NOT_FOUND = ("generation_not_found", 404, "No generation of yours with that id.")
    DESIGN_NOT_FOUND = ("design_not_found", 404, "No such design in that generation (or not stored yet).")
    INPUT_IMAGE_NOT_FOUND = ("input_image_not_found", 404, "No such input image in that generation.")
    CONVERSATION_NOT_FOUND = ("conversation_not_found", 404, "No conversation of yours with that id.")
    UNKNOWN_CONVERSATION = (
        "unknown_conversation",
        400,
        "The request names no active conversation of yours.",
    )
    RENDER_UNAVAILABLE = (
        "render_unavailable",
        503,
        "The design's PNG cannot be rendered now; its SVG can be downloaded. Try again shortly.",
    )
    GENERATION_FAILED = (
        "generation_failed",
        502,
        "The model gave no design for this request; the message says why (internal errors are masked).",
    )
    GENERATION_TIMEOUT = (
        "generation_timeout",
        504,
        "The designs were not ready in time; the message names the generation to read later.",
    )
