from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from webapp.leagues import api as leagues_api

from . import model_views, views

urlpatterns = [
    path("health/", views.health, name="api_health"),
    path("teams/", views.TeamList.as_view(), name="api_teams"),
    path("jobs/", views.JobList.as_view(), name="api_jobs"),
    path("jobs/<int:pk>/", views.JobDetail.as_view(), name="api_job"),
    path("jobs/<int:pk>/cancel/", views.JobCancel.as_view(), name="api_job_cancel"),
    path("models/", model_views.ModelList.as_view(), name="api_models"),
    path("models/<int:pk>/", model_views.ModelDetail.as_view(), name="api_model"),
    path("models/<int:pk>/tflite", model_views.ModelTflite.as_view(), name="api_model_tflite"),
    path("timer/crossings/", leagues_api.CrossingCreate.as_view(), name="api_timer_crossings"),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
]
