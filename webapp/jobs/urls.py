from django.urls import path

from . import views

urlpatterns = [
    path("", views.job_list, name="job_list"),
    path("<int:job_id>/", views.job_detail, name="job_detail"),
    path("<int:job_id>/state/", views.job_state, name="job_state"),
    path("<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
]
