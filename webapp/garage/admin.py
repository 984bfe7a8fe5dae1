from django.contrib import admin

from webapp.core.admin import SuperuserReadOnlyAdmin

from .models import InceptionWeights, TrainedModel


@admin.register(TrainedModel)
class TrainedModelAdmin(SuperuserReadOnlyAdmin):
    """Models change through training jobs only."""

    list_display = ("id", "name", "team", "kind", "status", "group_key", "created")
    list_filter = ("status", "kind")
    search_fields = ("name", "team__name", "group_key")


@admin.register(InceptionWeights)
class InceptionWeightsAdmin(SuperuserReadOnlyAdmin):
    list_display = ("id", "name", "team", "size", "created")
    search_fields = ("name", "team__name")
