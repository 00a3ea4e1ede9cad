"""Everything under /api/: v1 routes, the OpenAPI schema and offline docs, and a JSON 404 for the rest."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from catalog import api as catalog_api
from core.api import ApiLogMixin, ApiNotFound
from feedback import api as feedback_api
from generation import api, api_conversations, api_files
from training import api as training_api
from training import api_aliases, api_reviews, api_search

app_name = "api"


class SchemaView(ApiLogMixin, SpectacularAPIView):
    pass


class SwaggerView(ApiLogMixin, SpectacularSwaggerView):
    pass


class RedocView(ApiLogMixin, SpectacularRedocView):
    pass


v1 = [
    path("generations/", api.GenerationListCreateApi.as_view(), name="generation-list"),
    path("generations/<uuid:pk>/", api.GenerationDetailApi.as_view(), name="generation-detail"),
    path("generations/<uuid:pk>/designs/<int:seq>/svg/", api_files.DesignSvgApi.as_view(), name="design-svg"),
    path("generations/<uuid:pk>/designs/<int:seq>/png/", api_files.DesignPngApi.as_view(), name="design-png"),
    path(
        "generations/<uuid:pk>/inputs/<uuid:image_id>/", api_files.InputImageApi.as_view(), name="input-image"
    ),
    path("conversations/", api_conversations.ConversationListCreateApi.as_view(), name="conversation-list"),
    path(
        "conversations/<uuid:pk>/",
        api_conversations.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
    path("style-guides/", catalog_api.StyleGuideListApi.as_view(), name="style-guide-list"),
    path("patterns/", catalog_api.PatternListApi.as_view(), name="pattern-list"),
    path("templates/", catalog_api.TemplateListApi.as_view(), name="template-list"),
    path("models/", training_api.ModelVersionListApi.as_view(), name="model-list"),
    path("aliases/", api_aliases.AliasListApi.as_view(), name="alias-list"),
    path("aliases/<str:name>/", api_aliases.AliasMoveApi.as_view(), name="alias-move"),
    path(
        "generations/<uuid:pk>/feedback/",
        feedback_api.GenerationFeedbackApi.as_view(),
        name="generation-feedback",
    ),
    path("feedback/", feedback_api.FeedbackListApi.as_view(), name="feedback-list"),
    path("feedback/aggregates/", feedback_api.FeedbackAggregatesApi.as_view(), name="feedback-aggregates"),
    path("feedback/<uuid:pk>/", feedback_api.FeedbackDetailApi.as_view(), name="feedback-detail"),
    path("imports/", training_api.ImportListCreateApi.as_view(), name="import-list"),
    path("imports/<uuid:pk>/", training_api.ImportDetailApi.as_view(), name="import-detail"),
    path("datasets/", training_api.SnapshotCreateApi.as_view(), name="dataset-create"),
    path("examples/<uuid:pk>/reviews/", api_reviews.ExampleReviewsApi.as_view(), name="example-reviews"),
    path("examples/search/", api_search.ExampleSearchApi.as_view(), name="example-search"),
    path("examples/<uuid:pk>/similar/", api_search.ExampleSimilarApi.as_view(), name="example-similar"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    # Any other path under /api/, newlines included ("." would not match them), is a JSON 404.
    re_path(r"^[\s\S]*$", ApiNotFound.as_view(), name="not-found"),
]
