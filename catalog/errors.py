"""The catalog's API error codes: templates and style guides a request names that it may not use."""

from core.errors import ErrorCode


class CatalogErrorCode(ErrorCode):
    UNKNOWN_TEMPLATE = (
        "unknown_template",
        400,
        "No template by that name with a production version that you may use.",
    )
    UNKNOWN_TEMPLATE_VERSION = (
        "unknown_template_version",
        400,
        "No template version with that id that you may use.",
    )
    UNKNOWN_STYLE_GUIDE = ("unknown_style_guide", 400, "No published style guide with that id.")
