from django.urls import path

from . import analysis_views, car_download, views

urlpatterns = [
    path("train/", views.rl_train, name="rl_train"),
    path("train/clone-plan/", views.rl_clone_plan, name="rl_clone_plan"),
    path("models/<int:model_id>/", views.rl_model, name="rl_model"),
    path("models/<int:model_id>/history.json", views.rl_history, name="rl_history"),
    path("models/<int:model_id>/download/<slug:what>/", views.rl_download, name="rl_download"),
    path("models/<int:model_id>/car.tar.gz", car_download.rl_car_download, name="rl_car_download"),
    path("models/<int:model_id>/analysis/", analysis_views.rl_analysis, name="rl_analysis"),
    path("models/<int:model_id>/analysis/logs/<path:path>", analysis_views.rl_analysis_log, name="rl_analysis_log"),
]
