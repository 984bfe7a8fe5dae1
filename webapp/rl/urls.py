from django.urls import path

from . import views

urlpatterns = [
    path("train/", views.rl_train, name="rl_train"),
    path("train/clone-plan/", views.rl_clone_plan, name="rl_clone_plan"),
    path("models/<int:model_id>/", views.rl_model, name="rl_model"),
    path("models/<int:model_id>/history.json", views.rl_history, name="rl_history"),
    path("models/<int:model_id>/download/<slug:what>/", views.rl_download, name="rl_download"),
]
