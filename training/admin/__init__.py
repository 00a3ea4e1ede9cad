"""The training app's admin, one module per capability; importing them registers their ModelAdmins."""

from training.admin import (  # noqa: F401 - imported for their @admin.register side effect
    aliases,
    base_imports,
    evaluations,
    examples,
    imports,
    patterns,
    registry,
    reviews,
    runs,
    snapshots,
)
