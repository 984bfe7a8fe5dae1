"""The admin app with Pitlane's admin site (`webapp.core.admin.PitlaneAdminSite`) as `admin.site`.
Listed in INSTALLED_APPS instead of "django.contrib.admin"."""

from django.contrib.admin.apps import AdminConfig


class PitlaneAdminConfig(AdminConfig):
    default_site = "webapp.core.admin.PitlaneAdminSite"
