"""Designs in the admin, shared by its pages and the studio: the PNG URL of a stored design, an output's
designs one per slot, and the links from a design to where it came from."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from generation.models import DesignOutput, OutputImage

THUMB = 48  # px in changelists
LARGE = 256  # px on a design's page and in the playground


def design_image_url(image: OutputImage, *, large: bool = False) -> str:
    """The PNG of one stored design (its PNG row as stored, or its SVG row rendered): never SVG markup."""
    url = reverse("admin:generation_outputimage_thumbnail", args=[image.pk])
    return url + "?size=large" if large else url


def design_slots(output: DesignOutput) -> list[dict[str, Any]]:
    """One entry per design of an output (its PNG row, else its SVG row), from its prefetched images."""
    slots: dict[int, dict[str, Any]] = {}
    for image in output.images.all():
        slot = slots.setdefault(image.sequence_order, {"sequence_order": image.sequence_order})
        slot[image.file_type] = image
    for slot in slots.values():
        slot["shown"] = slot.get("png") or slot.get("svg")
        slot["style"] = (slot.get("svg") or slot["shown"]).style_attributes or {}
    return [slots[k] for k in sorted(slots)]


def design_links(output: DesignOutput, user: Any) -> list[tuple[str, str]]:
    """(label, url) from a design to its prompt, request log rows, model version and ratings, for those
    pages the user may open."""
    links = []
    if user.has_perm("generation.view_prompt"):
        links.append(("Prompt", reverse("admin:generation_prompt_change", args=[output.prompt_id])))
    if user.has_perm("generation.view_apirequest"):
        url = reverse("admin:generation_apirequest_changelist")
        links.append(("Request log", f"{url}?prompt__id__exact={output.prompt_id}"))
    if output.model_version_id and user.has_perm("training.view_slmmodel"):
        links.append(
            ("Model version", reverse("admin:training_slmmodel_change", args=[output.model_version_id]))
        )
    if user.has_perm("feedback.view_feedback"):
        url = reverse("admin:feedback_feedback_changelist")
        links.append(("Ratings", f"{url}?output__id__exact={output.pk}"))
    return links


def design_similar_panels(output: DesignOutput) -> list[dict[str, Any]]:
    """One "similar" panel's context per design (admin/catalog/_similar_panel.html), from the designs'
    stored fingerprints."""
    from generation.design_neighbours import design_fingerprints, neighbours_of_fingerprint
    from training.similarity import similar_panel_context

    return [
        {"sequence_order": seq, **similar_panel_context(lambda fp=fp: neighbours_of_fingerprint(fp, k=6))}
        for seq, fp in design_fingerprints(output).items()
    ]
