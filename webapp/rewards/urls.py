from django.urls import path

from . import views

urlpatterns = [
    path("", views.reward_list, name="reward_list"),
    path("new/", views.reward_new, name="reward_new"),
    path("<int:function_id>/", views.reward_detail, name="reward_detail"),
    path("<int:function_id>/diff/", views.reward_diff, name="reward_diff"),
    path("<int:function_id>/archive/", views.reward_archive, name="reward_archive"),
    path("<int:function_id>/upload/", views.reward_upload, name="reward_upload"),
    path("<int:function_id>/v<int:number>/", views.reward_version, name="reward_version"),
    path("<int:function_id>/v<int:number>/download/", views.reward_download, name="reward_download"),
]
