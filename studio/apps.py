from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StudioConfig(AppConfig):
    """The admin's home page (the dashboard) and the playground: the top of the layers, reading every app."""

    default = True
    name = "studio"
    verbose_name = "Studio: dashboard and playground"


class StudioAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with Atelier's site (studio.site): the dashboard as its home page."""

    default = False  # named in INSTALLED_APPS; "studio" alone is StudioConfig
    default_site = "studio.site.AtelierAdminSite"
