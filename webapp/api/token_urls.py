from django.urls import path

from . import token_views

urlpatterns = [
    path("", token_views.token_list, name="api_tokens"),
    path("<int:token_id>/revoke/", token_views.token_revoke, name="api_token_revoke"),
]
