from django.urls import path

from . import console_views, views

urlpatterns = [
    path("", views.league_list, name="league_list"),
    # Timekeeper console (issue 12; webapp.leagues.console_views): the events a user may time (before
    # "<slug>/" would take the path), an event's console and its JSON endpoints, and the audit log.
    path("timekeeping/events/", console_views.timed_event_list, name="timed_event_list"),
    path("<slug:slug>/events/<int:event_id>/console/", console_views.event_console, name="event_console"),
    path("<slug:slug>/events/<int:event_id>/console/state/", console_views.console_state_json,
         name="console_state"),
    path("<slug:slug>/events/<int:event_id>/console/attempts/", console_views.console_create_attempt,
         name="console_create_attempt"),
    path("<slug:slug>/events/<int:event_id>/console/attempts/<int:attempt_id>/action/",
         console_views.console_action, name="console_action"),
    path("<slug:slug>/events/<int:event_id>/audit/", console_views.event_audit, name="event_audit"),
    path("<slug:slug>/events/<int:event_id>/audit.csv", console_views.event_audit_csv, name="event_audit_csv"),
    path("<slug:slug>/", views.league_detail, name="league_detail"),
    path("<slug:slug>/events/<int:event_id>/", views.event_detail, name="event_detail"),
    path("<slug:slug>/events/<int:event_id>/register/", views.event_register, name="event_register"),
    path("<slug:slug>/events/<int:event_id>/unregister/", views.event_unregister, name="event_unregister"),
    # Live leaderboard: its JSON document, the venue's big screen and the streaming overlay.
    path("<slug:slug>/events/<int:event_id>/board.json", views.event_board_json, name="event_board_json"),
    path("<slug:slug>/events/<int:event_id>/screen/", views.event_screen, name="event_screen"),
    path("<slug:slug>/events/<int:event_id>/overlay/", views.event_overlay, name="event_overlay"),
]
