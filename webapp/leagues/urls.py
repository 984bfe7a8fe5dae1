from django.urls import path

from . import views

urlpatterns = [
    path("", views.league_list, name="league_list"),
    path("<slug:slug>/", views.league_detail, name="league_detail"),
    path("<slug:slug>/events/<int:event_id>/", views.event_detail, name="event_detail"),
    path("<slug:slug>/events/<int:event_id>/register/", views.event_register, name="event_register"),
    path("<slug:slug>/events/<int:event_id>/unregister/", views.event_unregister, name="event_unregister"),
]
