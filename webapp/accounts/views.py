"""Account and team pages. Views stay thin: forms validate, services change things, selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from webapp.jobs.selectors import jobs_of_team
from webapp.leagues.selectors import registrations_of_team

from . import selectors, services
from .current import forget_current_team, remember_current_team
from .forms import JoinCodeForm, SignupForm, SwitchTeamForm, TeamForm
from .signup import sign_up


def _safe_next(request: HttpRequest, default: str) -> str:
    """The ?next= target when it stays on this site, else the default."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def _error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You are not allowed to do that."


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request, reverse("dashboard")))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = sign_up(
                username=form.cleaned_data["username"], email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                login_url=request.build_absolute_uri(reverse("login")),
                reset_url=request.build_absolute_uri(reverse("password_reset")),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to Pitlane, {user.username}.")
            return redirect(_safe_next(request, reverse("dashboard")))
    return render(request, "accounts/signup.html", {"form": form, "next": _safe_next(request, "")})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.team is not None:
        return redirect(request.team)
    return render(request, "accounts/start.html", {"team_form": TeamForm(), "join_form": JoinCodeForm()})


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            remember_current_team(request, team)
            messages.success(request, f"Team “{team.name}” created. Invite your teammates below.")
            return redirect(team)
    return render(request, "accounts/team_create.html", {"form": form})


@login_required
def team_join(request: HttpRequest) -> HttpResponse:
    """Join by typing (or pasting) an invite code."""
    form = JoinCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.join_team(user=request.user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc)
        else:
            remember_current_team(request, team)
            messages.success(request, f"You are now a member of “{team.name}”.")
            return redirect(team)
    return render(request, "accounts/team_join.html", {"form": form})


@login_required
def team_join_link(request: HttpRequest, code: str) -> HttpResponse:
    """The invite link: confirm on GET (links get prefetched), join on POST."""
    invite = selectors.invite_by_code(code)
    if invite is None or not invite.is_usable:
        return render(request, "accounts/invite_invalid.html", status=404)
    already = selectors.is_member(request.user, invite.team)
    if request.method == "POST" and not already:
        try:
            team = services.join_team(user=request.user, code=code)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
            return redirect("team_join_code")
        remember_current_team(request, team)
        messages.success(request, f"You are now a member of “{team.name}”.")
        return redirect(team)
    if request.method == "POST":
        return redirect(invite.team)
    return render(request, "accounts/invite_confirm.html", {"invite": invite, "already_member": already})


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    form = SwitchTeamForm(request.POST)
    team = None
    if form.is_valid():
        team = next((t for t in selectors.teams_of(request.user) if t.pk == form.cleaned_data["team"]), None)
    if team is None:
        messages.error(request, "You are not a member of that team.")
        return redirect("dashboard")
    remember_current_team(request, team)
    return redirect(_safe_next(request, team.get_absolute_url()))


@login_required
def team_detail(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = selectors.membership_or_404(request.user, team_slug)
    team = membership.team
    if request.team != team:
        # Opening a team's page makes it the current team, so the switcher and actions agree.
        remember_current_team(request, team)
    invites = selectors.active_invites_of_team(team)
    context = {
        "team": team,
        "membership": membership,
        "memberships": selectors.memberships_of_team(team),
        "invites": [(invite, request.build_absolute_uri(invite.get_absolute_url())) for invite in invites],
        "jobs": jobs_of_team(team),
        "registrations": registrations_of_team(team),
    }
    return render(request, "accounts/team_detail.html", context)


def _team_action(request: HttpRequest, team_slug: str, action, success: str) -> HttpResponse:
    """Run one team workflow for a member; its refusal becomes a message on the team page."""
    team = selectors.membership_or_404(request.user, team_slug).team
    try:
        action(team)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, success)
    return redirect(team)


@login_required
@require_POST
def invite_create(request: HttpRequest, team_slug: str) -> HttpResponse:
    return _team_action(
        request, team_slug, lambda team: services.create_invite(user=request.user, team=team),
        "New invite created: share the link or the code.",
    )


@login_required
@require_POST
def invite_revoke(request: HttpRequest, team_slug: str, invite_id: int) -> HttpResponse:
    def revoke(team):
        services.revoke_invite(user=request.user, invite=selectors.invite_of_team_or_404(team, invite_id))

    return _team_action(request, team_slug, revoke, "Invite revoked: its link and code no longer work.")


@login_required
@require_POST
def member_remove(request: HttpRequest, team_slug: str, user_id: int) -> HttpResponse:
    return _team_action(
        request, team_slug, lambda team: services.remove_member(user=request.user, team=team, member_id=user_id),
        "Member removed from the team.",
    )


@login_required
@require_POST
def member_make_captain(request: HttpRequest, team_slug: str, user_id: int) -> HttpResponse:
    return _team_action(
        request, team_slug,
        lambda team: services.transfer_captaincy(user=request.user, team=team, member_id=user_id),
        "Captaincy handed over.",
    )


@login_required
@require_POST
def team_leave(request: HttpRequest, team_slug: str) -> HttpResponse:
    team = selectors.membership_or_404(request.user, team_slug).team
    try:
        services.leave_team(user=request.user, team=team)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect(team)
    forget_current_team(request, team)
    messages.success(request, f"You left “{team.name}”.")
    return redirect("dashboard")
