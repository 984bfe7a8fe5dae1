from django.urls import path

from . import views

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("upload/", views.dataset_upload, name="dataset_upload"),
    path("upload/chunk/", views.dataset_upload_chunk, name="dataset_upload_chunk"),
    path("<int:dataset_id>/", views.dataset_detail, name="dataset_detail"),
    path("<int:dataset_id>/figures/<slug:name>.json", views.dataset_figure, name="dataset_figure"),
    path("<int:dataset_id>/thinning.json", views.dataset_thinning, name="dataset_thinning"),
    path("<int:dataset_id>/samples/<int:index>.jpg", views.dataset_sample, name="dataset_sample"),
    path("<int:dataset_id>/recoveries/", views.recovery_add, name="dataset_recovery_add"),
    path("<int:dataset_id>/recoveries/<int:segment_id>/delete/", views.recovery_delete,
         name="dataset_recovery_delete"),
    path("<int:dataset_id>/delete/", views.dataset_delete, name="dataset_delete"),
]
