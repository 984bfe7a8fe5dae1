from django.urls import path

from . import views

urlpatterns = [
    path("", views.evaluation_list, name="evaluation_list"),
    path("model/<int:model_id>/start/", views.evaluation_start, name="evaluation_start"),
    path("<int:evaluation_id>/", views.evaluation_detail, name="evaluation_detail"),
    path("<int:evaluation_id>/files/<slug:kind>/", views.evaluation_file, name="evaluation_file"),
    path("<int:evaluation_id>/submit/", views.evaluation_submit, name="evaluation_submit"),
]
