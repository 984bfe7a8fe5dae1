"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404
from django.urls import path


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Platform records (teams, memberships) that only superusers see; organisers never do."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class SuperuserReadOnlyAdmin(SuperuserOnlyAdmin):
    """Records that workers and team workflows write (jobs, models, datasets, evaluations):
    superusers inspect them, nobody edits them in the admin. Every field is read-only."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PitlaneAdminSite(admin.AdminSite):
    """The admin site (installed as the default `admin.site` by `webapp.core.admin_apps`).

    Django's "view on site" shortcut (`/admin/r/<content type>/<id>/`) redirects any staff user to
    any object's public URL, whatever the model admin lets them see: an organiser could learn an
    invite-only league's slug from its id. Here it answers only for objects the user may view
    through the model's admin (its scoped queryset and view permission), and 404 for the rest."""

    def get_urls(self):
        urls = super().get_urls()
        for index, pattern in enumerate(urls):
            if getattr(pattern, "name", None) == "view_on_site":
                urls[index] = path("r/<path:content_type_id>/<path:object_id>/", self.admin_view(self.view_on_site),
                                   name="view_on_site")
        return urls

    def view_on_site(self, request, content_type_id: str, object_id: str):
        from django.contrib.contenttypes.models import ContentType
        from django.contrib.contenttypes.views import shortcut

        try:
            model = ContentType.objects.get(pk=content_type_id).model_class()
        except (ContentType.DoesNotExist, ValueError):
            raise Http404("No such object.") from None
        model_admin = self._registry.get(model) if model is not None else None
        if model_admin is None:
            raise Http404("No such object.")
        obj = model_admin.get_object(request, unquote(object_id))  # through the admin's scoped queryset
        if obj is None or not model_admin.has_view_permission(request, obj):
            raise Http404("No such object.")
        return shortcut(request, content_type_id, object_id)
