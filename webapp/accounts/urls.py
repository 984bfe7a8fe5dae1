from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

auth_patterns = [
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("accounts/password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("accounts/password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
]

team_patterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/join/", views.team_join, name="team_join_code"),
    path("teams/join/<str:code>/", views.team_join_link, name="team_join"),
    path("teams/switch/", views.team_switch, name="team_switch"),
    path("teams/<slug:team_slug>/", views.team_detail, name="team_detail"),
    path("teams/<slug:team_slug>/invites/", views.invite_create, name="invite_create"),
    path("teams/<slug:team_slug>/invites/<int:invite_id>/revoke/", views.invite_revoke, name="invite_revoke"),
    path("teams/<slug:team_slug>/members/<int:user_id>/remove/", views.member_remove, name="member_remove"),
    path("teams/<slug:team_slug>/members/<int:user_id>/captain/", views.member_make_captain,
         name="member_make_captain"),
    path("teams/<slug:team_slug>/leave/", views.team_leave, name="team_leave"),
]

urlpatterns = auth_patterns + team_patterns
