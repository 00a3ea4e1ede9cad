from django.contrib import admin
from django.urls import include, path

# Media is never served raw: SVG, PNG and exports go through views that set safe headers.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("v1/", include("config.openai_urls")),  # the OpenAI protocol, where its clients look for it
    path("", include("core.urls")),
]

# Errors Django answers itself (a bad Host header, an exception outside the API's views) are JSON in the
# API's error shape under /api/, Django's pages elsewhere.
handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
