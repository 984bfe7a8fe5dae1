from django.urls import path

from . import views

urlpatterns = [
    path("", views.agent_page, name="agent"),
    path("wheel/", views.agent_wheel, name="agent_wheel"),
]
