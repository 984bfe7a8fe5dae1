from django.urls import path

from . import console_views, views, views_league, views_rounds

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
    # League page and event results (issue 12; webapp.leagues.views_league): CSV exports, podium,
    # revealing hidden results, registration approval, the submission a team picks.
    path("<slug:slug>/", views_league.league_detail, name="league_detail"),
    path("<slug:slug>/events/<int:event_id>/results.csv", views_league.event_results_csv, name="event_results_csv"),
    path("<slug:slug>/events/<int:event_id>/laps.csv", views_league.event_laps_csv, name="event_laps_csv"),
    path("<slug:slug>/events/<int:event_id>/podium/", views_league.event_podium, name="event_podium"),
    path("<slug:slug>/events/<int:event_id>/reveal/", views_league.event_reveal, name="event_reveal"),
    path("<slug:slug>/events/<int:event_id>/registrations/", views_league.event_registrations,
         name="event_registrations"),
    path("<slug:slug>/events/<int:event_id>/registrations/<int:registration_id>/decide/",
         views_league.registration_decide, name="registration_decide"),
    path("<slug:slug>/events/<int:event_id>/submissions/", views_league.event_submissions, name="event_submissions"),
    path("<slug:slug>/events/<int:event_id>/submissions/<int:submission_id>/choose/",
         views_league.submission_choose, name="submission_choose"),
    # Rounds (issue 12; webapp.leagues.views_rounds): the public page of an event's rounds and brackets,
    # and the organisers' race-day actions on it (create, seed from a finished round, decide a heat).
    path("<slug:slug>/events/<int:event_id>/rounds/", views_rounds.event_rounds, name="event_rounds"),
    path("<slug:slug>/events/<int:event_id>/rounds/create/", views_rounds.round_create, name="round_create"),
    path("<slug:slug>/events/<int:event_id>/rounds/<int:round_id>/seed/", views_rounds.round_seed,
         name="round_seed"),
    path("<slug:slug>/events/<int:event_id>/heats/<int:heat_id>/decide/", views_rounds.heat_decide,
         name="heat_decide"),
    path("<slug:slug>/events/<int:event_id>/", views.event_detail, name="event_detail"),
    path("<slug:slug>/events/<int:event_id>/register/", views.event_register, name="event_register"),
    path("<slug:slug>/events/<int:event_id>/unregister/", views.event_unregister, name="event_unregister"),
    # Live leaderboard: its JSON document, the venue's big screen and the streaming overlay.
    path("<slug:slug>/events/<int:event_id>/board.json", views.event_board_json, name="event_board_json"),
    path("<slug:slug>/events/<int:event_id>/screen/", views.event_screen, name="event_screen"),
    path("<slug:slug>/events/<int:event_id>/overlay/", views.event_overlay, name="event_overlay"),
]
