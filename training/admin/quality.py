"""A model's evaluation on a page (on its snapshot's held-out designs, real or synthetic, said which): the model's figures beside its baselines, per complexity third,
a plain verdict, and a gallery of references and designs as PNGs (never inline SVG). Shown on model
versions, evaluations and training runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from slm.quality.verdict import learning_verdict

QUALITY_KEYS = (
    "valid_nondegenerate",
    "iou",
    "blank_iou",
    "random_iou",
    "retrieval_iou",
    "biou",
    "blank_biou",
    "random_biou",
    "retrieval_biou",
    "l2",
    "blank_l2",
    "random_l2",
    "retrieval_l2",
    "train_iou",
    "greedy_valid",
    "iou_greedy",
    "biou_greedy",
    "train_iou_greedy",
    "copy_rate",
    "diversity",
    "low_iou",
    "medium_iou",
    "high_iou",
)
GALLERY_PNG = 192  # px the gallery's images are rendered at (shown at 96)


def _f(value: Any, digits: int = 3) -> str:
    return f"{float(value):.{digits}f}" if isinstance(value, int | float) else "–"


def evaluated_on(metrics: dict[str, Any]) -> str:
    """What the figures were measured on: the evaluation scores adherence only where the held-out prompts
    are the synthetic grammar's (the demo's snapshot), so that says which data it was."""
    n = int(metrics.get("eval_prompts", 0))
    if "adherence_rate" in metrics:
        return f"{n} held-out prompts of the synthetic grammar (generated designs, not a real icon set)"
    return f"{n} held-out designs of the training snapshot (real data)"


def quality_panel(
    metrics: dict[str, Any],
    gallery: list[dict[str, Any]],
    image_url: Callable[[int, str], str],
    note: str = "",
) -> SafeString:
    """HTML for the evaluation; image_url(index, "reference" | "design") names each gallery PNG."""
    if "iou" not in metrics:
        return mark_safe(render_to_string("admin/training/includes/quality.html", {"rows": [], "note": note}))

    def cells(*keys: str) -> list[str]:
        return [_f(metrics.get(k)) if k else "" for k in keys]

    rows = [
        {
            "label": "ink IoU with the reference (higher is better)",
            "cells": cells("iou", "blank_iou", "random_iou", "retrieval_iou"),
        },
        {
            "label": "balanced IoU: ink and paper alike (higher is better; a blob or nothing ≤ 0.5)",
            "cells": cells("biou", "blank_biou", "random_biou", "retrieval_biou"),
        },
        {
            "label": "pixel L2 (lower is better)",
            "cells": cells("l2", "blank_l2", "random_l2", "retrieval_l2"),
        },
        {"label": "valid, drawn, not a filled canvas", "cells": cells("valid_nondegenerate", "", "", "")},
        {
            "label": "greedy decodes valid, drawn, not a filled canvas",
            "cells": cells("greedy_valid", "", "", ""),
        },
        {
            "label": "degenerate: unrenderable / blank / filled",
            "cells": [
                " / ".join(
                    _f(metrics.get(k), 2)
                    for k in ("degenerate_unrenderable", "degenerate_blank", "degenerate_filled")
                ),
                "",
                "",
                "",
            ],
        },
        {"label": "copies of a training design", "cells": cells("copy_rate", "", "", "")},
        {
            "label": "distinct designs of 4 at temperature 0.8",
            "cells": [_f(metrics.get("diversity"), 2), "", "", ""],
        },
        {
            "label": f"ink IoU on {int(metrics.get('train_prompts', 0))} training prompts (has it learned them?)",
            "cells": cells("train_iou", "", "", ""),
        },
    ]
    if "iou_greedy" in metrics:  # designs chosen by consensus: the greedy decodes, for comparison
        rows += [
            {"label": "greedy decode: ink IoU on test prompts", "cells": cells("iou_greedy", "", "", "")},
            {
                "label": "greedy decode: balanced IoU on test prompts",
                "cells": cells("biou_greedy", "", "", ""),
            },
            {
                "label": "greedy decode: ink IoU on training prompts",
                "cells": cells("train_iou_greedy", "", "", ""),
            },
        ]
    strata = [
        {
            "name": name,
            "n": int(metrics[f"{name}_n"]),
            "commands": _f(metrics.get(f"{name}_commands"), 1),
            "valid": _f(metrics.get(f"{name}_valid_nondegenerate")),
            "iou": _f(metrics.get(f"{name}_iou")),
            "random_iou": _f(metrics.get(f"{name}_random_iou")),
            "retrieval_iou": _f(metrics.get(f"{name}_retrieval_iou")),
            "biou": _f(metrics.get(f"{name}_biou")),
            "random_biou": _f(metrics.get(f"{name}_random_biou")),
        }
        for name in ("low", "medium", "high")
        if f"{name}_n" in metrics
    ]
    items = [
        {
            **{k: item.get(k) for k in ("prompt", "iou", "biou", "stratum", "degenerate")},
            "reference_url": image_url(i, "reference"),
            "design_url": image_url(i, "design"),
        }
        for i, item in enumerate(gallery)
        if "reference_svg" in item
    ]
    judged = learning_verdict(metrics)
    context = {
        "rows": rows,
        "strata": strata,
        "gallery": items,
        "n": int(metrics.get("eval_prompts", 0)),
        "learned": judged.learned,
        "verdict": judged.sentence,
        "chosen_by": "consensus of sampled candidates" if "iou_greedy" in metrics else "greedy",
        "evaluated_on": evaluated_on(metrics),
    }
    return mark_safe(render_to_string("admin/training/includes/quality.html", context))


def gallery_svg(gallery: list[dict[str, Any]], index: int, which: str) -> str | None:
    """The SVG of one gallery image, or None (the view answers 404)."""
    if not 0 <= index < len(gallery) or which not in ("reference", "design"):
        return None
    item = gallery[index]
    return item.get("reference_svg" if which == "reference" else "svg") or ""


class GalleryImagesMixin:
    """`<pk>/gallery/<index>/<reference|design>.png` on an admin whose rows keep a `gallery`: the PNG of
    one image of its evaluation gallery, for those who may view the row."""

    def get_urls(self):  # type: ignore[no-untyped-def]
        from django.urls import path

        opts = self.model._meta  # type: ignore[attr-defined]
        view = self.admin_site.admin_view(self.gallery_image_view)  # type: ignore[attr-defined]
        return [
            path(
                "<uuid:pk>/gallery/<int:index>/<str:which>.png",
                view,
                name=f"{opts.app_label}_{opts.model_name}_gallery_image",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def gallery_image_view(self, request: Any, pk: str, index: int, which: str) -> Any:
        from django.http import Http404
        from django.shortcuts import get_object_or_404

        from core.admin_pages import thumbnail_response

        obj = get_object_or_404(self.model, pk=pk)  # type: ignore[attr-defined]
        if not self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            raise Http404
        svg = gallery_svg(obj.gallery or [], index, which)
        if svg is None:
            raise Http404
        return thumbnail_response(svg, size=GALLERY_PNG)


def gallery_url(obj: Any, index: int, which: str) -> str:
    from django.urls import reverse

    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_gallery_image", args=[obj.pk, index, which])


def panel_for(obj: Any, note: str = "") -> SafeString:
    """The quality panel of a row with `metrics` and `gallery` (a model version or an evaluation)."""
    return quality_panel(obj.metrics or {}, obj.gallery or [], lambda i, w: gallery_url(obj, i, w), note)


def panel_for_metrics(metrics: dict[str, Any], note: str = "") -> SafeString:
    return quality_panel(metrics, [], lambda i, w: "", note)
