"""The studio's pages: the dashboard's progress poll and the playground. Thin: check, call, render."""

from __future__ import annotations

import math
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.admin_json import json_html
from core.jobs.models import TERMINAL
from feedback.services import feedback_upsert, output_promote
from generation.admin_designs import design_image_url, design_links, design_slots
from generation.api import GenerationCreateThrottle
from generation.models import DesignOutput
from studio import selectors
from studio.access import may_use_playground, may_watch_jobs, staff_page
from studio.forms import PlaygroundForm
from studio.services import playground_generate

FORM_FIELDS = {"model": "model_a", "images": "image", "template": "template_version"}


def _ids(raw: str, *, limit: int = 2) -> list[str]:
    """The UUIDs in a comma-separated parameter (anything else ignored), at most `limit`."""
    ids = []
    for part in (raw or "").split(","):
        try:
            ids.append(str(uuid.UUID(part.strip())))
        except ValueError:
            continue
    return ids[:limit]


@staff_page(may_watch_jobs)
def dashboard_jobs(request: HttpRequest) -> JsonResponse:
    """Status and progress of the running jobs the dashboard shows (?runs=id,id&imports=id,id)."""
    user = request.user
    shown = selectors.JOBS_SHOWN
    runs = (
        _ids(request.GET.get("runs", ""), limit=shown) if user.has_perm("training.view_trainingrun") else []
    )
    imports = (
        _ids(request.GET.get("imports", ""), limit=shown)
        if user.has_perm("training.view_importbatch")
        else []
    )
    return JsonResponse(selectors.job_progress(run_ids=runs, import_ids=imports))


@staff_page(may_use_playground)
def playground(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PlaygroundForm(request.POST or None, request.FILES or None, user=user)
    throttled = request.method == "POST" and form.is_valid() and _throttled(request, form)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            outputs = playground_generate(
                user=user,
                endpoint=request.path,
                models=form.models(),
                text=(data.get("text") or "").strip(),
                template_version_id=data["template_version"].pk if data.get("template_version") else None,
                variables=data.get("variables") or {},
                style_guide_id=data["style_guide"].pk if data.get("style_guide") else None,
                image=data["image"].read() if data.get("image") else None,
                count=data["count"],
                seed=data.get("seed"),
                temperature=data.get("temperature"),
            )
        except ValidationError as exc:
            for field, errors in (
                exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            ).items():
                name = FORM_FIELDS.get(field, field) if field else None
                form.add_error(name if name in form.fields else None, errors)
        else:
            return redirect(_results_url([str(o.pk) for o in outputs], form.models()))
    ids = _ids(request.GET.get("ids", ""))
    chosen = request.GET.get("models", "")
    outputs = selectors.playground_outputs(user=user, ids=ids) if ids else []
    if outputs and not form.is_bound:  # the results under the form that asked for them, ready to tweak
        form = PlaygroundForm(initial=_asked(outputs, _refs(chosen)), user=user)
    context = {
        **admin.site.each_context(request),
        "title": "Playground",
        "form": form,
        "columns": [_column(o, user) for o in outputs],
        "ids": ",".join(str(o.pk) for o in outputs),
        "models": chosen,
        "waiting": any(o.status not in TERMINAL for o in outputs),
        "status_url": reverse("admin:playground_status"),
        "has_models": bool(form.fields["model_a"].choices),
        "snapshots_url": reverse("admin:training_dataset_changelist"),
    }
    return TemplateResponse(
        request, "admin/studio/playground.html", context, status=429 if throttled else 200
    )


def _throttled(request: HttpRequest, form: PlaygroundForm) -> bool:
    """The API's per-user generation throttle, shared: the playground creates generations too."""
    throttle = GenerationCreateThrottle()
    if throttle.allow_request(request, None):
        return False
    wait = math.ceil(throttle.wait() or 1)
    form.add_error(
        None,
        f"Too many design requests (at most {throttle.rate}, as through the API): try again in {wait} s.",
    )
    return True


def _refs(raw: str) -> list[str]:
    """The model references (alias, version id or name:version) the form asked with, at most two."""
    return [part.strip()[:100] for part in raw.split(",")][:2] if raw.strip(" ,") else []


def _asked(outputs: list[DesignOutput], refs: list[str]) -> dict[str, Any]:
    """The form as it was sent: a model chosen by alias (`production`) stays chosen by alias, not by the
    version the alias pointed at then."""
    first, prompt = outputs[0], outputs[0].prompt
    refs = refs + [""] * (2 - len(refs))
    return {
        "text": "" if prompt.template_version_id else prompt.text_content,
        "template_version": prompt.template_version_id,
        "variables": "\n".join(f"{k}={v}" for k, v in (prompt.template_variables or {}).items()),
        "style_guide": prompt.style_guide_id,
        "model_a": refs[0] or str(first.model_version_id),
        "model_b": refs[1] or (str(outputs[1].model_version_id) if len(outputs) > 1 else ""),
        "count": first.requested_count,
        "seed": first.seed,
        "temperature": first.temperature,
    }


def _results_url(ids: list[str], models: list[str] | None = None) -> str:
    query = urlencode({"ids": ",".join(ids), **({"models": ",".join(models)} if models else {})}, safe=",")
    return f"{reverse('admin:playground')}?{query}"


def _column(output: DesignOutput, user: Any) -> dict[str, Any]:
    meta = output.design_metadata or {}
    promoted = {p.sequence_order for p in output.promotions.all()}
    mine = next((f.rating for f in output.feedback.all() if f.deleted_at is None), None)
    timings = meta.get("timings_ms") or {}
    return {
        "output": output,
        "model": str(output.model_version) if output.model_version_id else "-",
        "designs": [
            {
                "seq": s["sequence_order"],
                "image": design_image_url(s["shown"], large=True),
                "colours": ", ".join(s["style"].get("colours", [])[:6]),
                "tokens": s["style"].get("tokens"),
                "promoted": s["sequence_order"] in promoted,
                "promote_url": reverse("admin:playground_promote", args=[output.pk, s["sequence_order"]]),
            }
            for s in design_slots(output)
        ],
        "facts": [
            (k, v)
            for k, v in (
                ("status", output.status),
                ("seed", output.seed),
                ("temperature", output.temperature),
                ("total ms", output.processing_time_ms),
                ("queued ms", timings.get("queued")),
                ("generate ms", timings.get("generate")),
                ("postprocess ms", timings.get("postprocess")),
                ("tokens", (meta.get("tokens") or {}).get("generated")),
                ("candidates tried", meta.get("candidates_tried")),
                ("dropped", len(meta.get("candidates_dropped") or [])),
            )
            if v not in (None, "")
        ],
        "short": meta.get("designs_short_by") if output.status == "completed" else None,
        "metadata": json_html(meta) if meta else "",
        "mine": mine,
        "rate_url": reverse("admin:playground_rate", args=[output.pk]),
        "links": design_links(output, user),
        "can_promote": user.has_perm("feedback.add_promotion"),
    }


@staff_page(may_use_playground)
def playground_status(request: HttpRequest) -> JsonResponse:
    ids = _ids(request.GET.get("ids", ""))
    statuses = selectors.playground_statuses(user=request.user, ids=ids)
    return JsonResponse({"statuses": statuses, "done": all(s in TERMINAL for s in statuses.values())})


def _own_output(request: HttpRequest, output_id: Any) -> DesignOutput:
    output = selectors.playground_output_get(user=request.user, output_id=output_id)
    if output is None:
        raise Http404
    return output


def _back(request: HttpRequest, output: DesignOutput) -> HttpResponse:
    ids = _ids(request.POST.get("ids", "")) or [str(output.pk)]
    return redirect(_results_url(ids, _refs(request.POST.get("models", ""))))


@require_POST
@staff_page(may_use_playground)
def playground_rate(request: HttpRequest, output_id: Any) -> HttpResponse:
    output = _own_output(request, output_id)
    try:
        feedback_upsert(output=output, user=request.user, rating=int(request.POST.get("rating", "0")))
    except ValueError:
        messages.error(request, "Rating must be a whole number from 1 to 5.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(
            request, f"Rated {output.model_version or 'the design'}: {request.POST.get('rating')}★."
        )
    return _back(request, output)


@require_POST
@staff_page(may_use_playground)
def playground_promote(request: HttpRequest, output_id: Any, seq: int) -> HttpResponse:
    if not request.user.has_perm("feedback.add_promotion"):
        raise PermissionDenied
    output = _own_output(request, output_id)
    status = request.POST.get("status", "draft")
    try:
        examples = output_promote(output=output, promoted_by=request.user, status=status, sequence_order=seq)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        messages.success(
            request, f"Design #{seq} added to the training data as {status} ({len(examples)} example)."
        )
    return _back(request, output)
