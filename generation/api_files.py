"""The public API's file downloads for generation, /api/v1/generations/<id>/: a design's SVG and PNG, and
a request's input images.

Every view is a core.api file view (auth, throttling, the error shape, the request log); a user sees only
their own rows (others' ids answer 404).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from core.api import INLINE_PARAM, FileApi, file_response, read_file
from core.api_errors import ApiError, errors
from core.svg import SvgError, clean_svg
from generation import selectors
from generation.errors import GenerationErrorCode as Codes
from generation.services.renders import design_png_ensure


class DesignSvgApi(FileApi):
    @extend_schema(
        summary="Download a design as sanitised SVG",
        parameters=[INLINE_PARAM],
        responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, **errors(Codes.DESIGN_NOT_FOUND)},
    )
    def get(self, request: Request, pk: Any, seq: int) -> HttpResponse:
        image = selectors.output_image_get(
            user=request.user, output_id=pk, sequence_order=seq, file_type="svg"
        )
        if image is None:
            raise ApiError(Codes.DESIGN_NOT_FOUND)
        try:  # stored SVG is already clean; cleaning again on the way out costs little and trusts nothing
            svg = clean_svg(read_file(image.file, missing=Codes.DESIGN_NOT_FOUND)).svg
        except SvgError as exc:
            raise ApiError(Codes.DESIGN_NOT_FOUND) from exc
        return file_response(
            svg.encode("utf-8"),
            content_type="image/svg+xml; charset=utf-8",
            filename=f"design-{str(pk)[:8]}-{seq}.svg",
            request=request,
        )


class DesignPngApi(FileApi):
    @extend_schema(
        summary="Download a design's PNG render",
        description=(
            "The worker renders PNGs right after a request completes; one asked for before that is "
            "rendered from the stored SVG on the spot. 503 if it cannot be rendered."
        ),
        parameters=[INLINE_PARAM],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            **errors(Codes.DESIGN_NOT_FOUND, Codes.RENDER_UNAVAILABLE),
        },
    )
    def get(self, request: Request, pk: Any, seq: int) -> HttpResponse:
        image = selectors.output_image_get(
            user=request.user, output_id=pk, sequence_order=seq, file_type="png"
        )
        if image is None:  # not rendered yet (the worker renders right after completing): render it now
            svg = selectors.output_image_get(
                user=request.user, output_id=pk, sequence_order=seq, file_type="svg"
            )
            if svg is None:
                raise ApiError(Codes.DESIGN_NOT_FOUND)
            try:
                image = design_png_ensure(output=svg.output, sequence_order=seq)
            except (SvgError, OSError) as exc:
                raise ApiError(Codes.RENDER_UNAVAILABLE) from exc
            if image is None:
                raise ApiError(Codes.DESIGN_NOT_FOUND)
        content = read_file(image.file, missing=Codes.DESIGN_NOT_FOUND)
        return file_response(
            content,
            content_type="image/png",
            filename=f"design-{str(pk)[:8]}-{seq}.png",
            request=request,
        )


class InputImageApi(FileApi):
    @extend_schema(
        summary="Download an input image (as stored: re-encoded, metadata stripped)",
        parameters=[INLINE_PARAM],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            **errors(Codes.INPUT_IMAGE_NOT_FOUND),
        },
    )
    def get(self, request: Request, pk: Any, image_id: Any) -> HttpResponse:
        image = selectors.input_image_get(user=request.user, output_id=pk, image_id=image_id)
        if image is None:
            raise ApiError(Codes.INPUT_IMAGE_NOT_FOUND)
        content = read_file(image.file, missing=Codes.INPUT_IMAGE_NOT_FOUND)
        ext = "jpg" if image.file_type == "jpeg" else "png"
        return file_response(
            content,
            content_type=f"image/{image.file_type}",
            filename=f"input-{str(image.pk)[:8]}.{ext}",
            request=request,
        )
