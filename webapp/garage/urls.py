from django.urls import path

from . import views

urlpatterns = [
    path("", views.model_list, name="model_list"),
    path("train/", views.model_train, name="model_train"),
    path("groups/<slug:group_key>/", views.model_group, name="model_group"),
    path("groups/<slug:group_key>/evaluate/", views.model_group_evaluate, name="model_group_evaluate"),
    path("weights/", views.weights_list, name="weights_list"),
    path("weights/<int:weights_id>/delete/", views.weights_delete, name="weights_delete"),
    path("<int:model_id>/", views.model_detail, name="model_detail"),
    path("<int:model_id>/history.json", views.model_history, name="model_history"),
    path("<int:model_id>/figures/<slug:name>.json", views.model_figure, name="model_figure"),
    path("<int:model_id>/heatmaps/<int:index>.png", views.model_heatmap, name="model_heatmap"),
    path("<int:model_id>/heatmaps/sequence.gif", views.model_heatmap_gif, name="model_heatmap_gif"),
    path("<int:model_id>/download/<slug:artifact>/", views.model_download, name="model_download"),
]
