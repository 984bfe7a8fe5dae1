"""Admin building blocks shared by the apps."""

from django.contrib import admin


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
