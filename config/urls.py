from django.contrib import admin
from django.urls import include, path

# Media is never served raw: SVG, PNG and exports go through views that set safe headers.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("", include("core.urls")),
]
