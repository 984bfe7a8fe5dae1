"""Admin for organisers: each sees and edits only the leagues they organise, and what hangs off them.
Superusers see everything. Scoping is in one mixin so every model applies the same rule."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse

from webapp.accounts.models import Team

from . import race, selectors, services
from .models import Attempt, AuditEntry, Crossing, Event, Heat, LapResult, League, Registration, Round, TimerDevice


class OrganiserScopedAdmin(admin.ModelAdmin):
    """`league_lookup` leads from the model to its League ("" for League itself)."""

    league_lookup = "league"

    def _scope_filter(self, user) -> Q:
        prefix = f"{self.league_lookup}__" if self.league_lookup else ""
        return Q(**{f"{prefix}organisers": user})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(self._scope_filter(request.user)).distinct()

    def get_object(self, request, object_id, from_field=None):
        # Another league's object answers 404, not the admin's "perhaps it was deleted" redirect.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object among the leagues you organise.")
        return obj

    def _in_scope(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._in_scope(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.name == "league":
                kwargs["queryset"] = League.objects.filter(organisers=request.user)
            elif db_field.name == "event":
                kwargs["queryset"] = Event.objects.filter(league__organisers=request.user).select_related("league")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RecordedByMixin:
    """Organisers never pick users (that would list every account); the admin fills the field in."""

    user_field = "recorded_by"

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else fields + (self.user_field,)

    def fill_user_field(self, request, obj) -> None:
        if not getattr(obj, f"{self.user_field}_id"):
            setattr(obj, self.user_field, request.user)

    def save_model(self, request, obj, form, change):
        self.fill_user_field(request, obj)
        super().save_model(request, obj, form, change)


def _limit_team_choices(form_class, teams) -> None:
    """Narrow the team dropdown of a form class the admin just built for one request."""
    if "team" in form_class.base_fields:
        form_class.base_fields["team"].queryset = teams


class EventInline(admin.TabularInline):
    model = Event
    fields = ("name", "kind", "track", "starts", "ends", "status")
    extra = 0
    show_change_link = True


@admin.register(League)
class LeagueAdmin(OrganiserScopedAdmin):
    league_lookup = ""
    list_display = ("name", "visibility", "event_count", "organiser_names", "created")
    list_filter = ("visibility",)
    search_fields = ("name", "description")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("organisers", "invited_teams")
    inlines = [EventInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_event_count=Count("events", distinct=True))

    def get_readonly_fields(self, request, obj=None):
        # Organisers cannot add or drop organisers: that would let them widen their own scope.
        return ("created",) if request.user.is_superuser else ("created", "organisers")

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser or obj is None else {}

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "invited_teams":
            kwargs["queryset"] = Team.objects.order_by("name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            form.instance.organisers.add(request.user)

    @admin.display(description="Events", ordering="_event_count")
    def event_count(self, league):
        return league._event_count

    @admin.display(description="Organisers")
    def organiser_names(self, league):
        return ", ".join(user.get_username() for user in league.organisers.all()) or "—"


class RegistrationInline(admin.TabularInline):
    model = Registration
    fields = ("team", "approved", "created")
    readonly_fields = ("created",)
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        league = obj.league if obj is not None else None
        _limit_team_choices(formset.form, selectors.registration_team_choices(request.user, league))
        return formset


class EventForm(forms.ModelForm):
    """Timekeepers are named by username (organisers never get a list of every account)."""

    timekeeper_usernames = forms.CharField(
        required=False, label="Timekeepers", widget=forms.TextInput(attrs={"size": 60}),
        help_text="Usernames, separated by commas: they may run this event's timekeeper console.",
    )

    class Meta:
        model = Event
        fields = ("league", "name", "kind", "status", "track", "direction", "location", "starts", "ends",
                  "ranking_rule", "consecutive_laps", "off_track_penalty_s", "max_resets_per_lap", "tie_break",
                  "min_plausible_lap_s", "attempt_time_s", "attempts_per_team", "laps_per_attempt",
                  "requires_approval", "submissions_per_day", "hidden_track", "results_revealed")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["timekeeper_usernames"].initial = ", ".join(
                user.get_username() for user in self.instance.timekeepers.order_by("username"))

    def clean_timekeeper_usernames(self):
        from django.contrib.auth import get_user_model

        names = [name.strip() for name in self.cleaned_data["timekeeper_usernames"].split(",") if name.strip()]
        users = list(get_user_model().objects.filter(username__in=names))
        missing = sorted(set(names) - {user.get_username() for user in users})
        if missing:
            raise forms.ValidationError(f"No such user: {', '.join(missing)}.")
        return users


@admin.register(Event)
class EventAdmin(OrganiserScopedAdmin):
    form = EventForm
    list_display = ("name", "league", "kind", "track", "starts", "status", "registration_count")
    # RelatedOnlyFieldListFilter lists only leagues of the (scoped) changelist.
    list_filter = ("status", "kind", "ranking_rule", ("league", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "track", "location", "league__name")
    date_hierarchy = "starts"
    list_select_related = ("league",)
    inlines = [RegistrationInline]
    fieldsets = (
        (None, {"fields": ("league", "name", "kind", "status")}),
        ("Where and when", {"fields": ("track", "direction", "location", "starts", "ends")}),
        ("Race rules", {"fields": ("ranking_rule", "consecutive_laps", "off_track_penalty_s",
                                   "max_resets_per_lap", "tie_break", "min_plausible_lap_s")}),
        ("Attempts", {"fields": ("attempt_time_s", "attempts_per_team", "laps_per_attempt")}),
        ("Registration and timekeeping", {"fields": ("requires_approval", "timekeeper_usernames")}),
        ("Virtual race", {"fields": ("submissions_per_day", "hidden_track", "results_revealed")}),
    )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.timekeepers.set(form.cleaned_data.get("timekeeper_usernames") or [])

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_registrations=Count("registrations", distinct=True))

    @admin.display(description="Teams", ordering="_registrations")
    def registration_count(self, event):
        return event._registrations


@admin.register(Registration)
class RegistrationAdmin(RecordedByMixin, OrganiserScopedAdmin):
    league_lookup = "event__league"
    user_field = "registered_by"
    list_display = ("team", "event", "league_name", "approved", "created", "registered_by")
    list_filter = ("approved", "event__kind", ("event", admin.RelatedOnlyFieldListFilter))
    search_fields = ("team__name", "event__name", "event__league__name")
    list_select_related = ("team", "event", "event__league", "registered_by")
    list_editable = ("approved",)
    readonly_fields = ("created",)
    actions = ("approve", "withdraw_approval")

    def _approve(self, request, queryset, approved: bool) -> None:
        done = 0
        for registration in queryset.select_related("event", "event__league"):
            try:
                services.approve_registration(user=request.user, registration=registration, approved=approved)
                done += 1
            except PermissionDenied as exc:
                self.message_user(request, str(exc), messages.ERROR)
        self.message_user(request, f"{done} registration(s) {'approved' if approved else 'no longer approved'}.",
                          messages.SUCCESS)

    @admin.action(description="Approve selected registrations", permissions=["change"])
    def approve(self, request, queryset):
        self._approve(request, queryset, True)

    @admin.action(description="Withdraw approval of selected registrations", permissions=["change"])
    def withdraw_approval(self, request, queryset):
        self._approve(request, queryset, False)

    @admin.display(description="League", ordering="event__league__name")
    def league_name(self, registration):
        return registration.event.league.name

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        teams = selectors.registration_team_choices(
            request.user, obj.event.league if obj is not None else None, obj.team_id if obj is not None else None,
        )
        _limit_team_choices(form, teams)
        return form


class LapResultForm(forms.ModelForm):
    """The team must be registered for the event (`services.lap_problem`) and a lap below the event's
    plausible minimum must be confirmed (`services.implausible_problem`), shown on the form."""

    def clean(self):
        cleaned = super().clean()
        event, team = cleaned.get("event"), cleaned.get("team")
        stored = (self.instance.event_id, self.instance.team_id) if self.instance.pk else None
        if event is not None and team is not None and stored != (event.pk, team.pk):
            problem = services.lap_problem(event, team)
            if problem:
                self.add_error("team", problem)
        if event is not None and not self.instance.pk:
            problem = services.physical_lap_problem(event, cleaned.get("source", ""))
            if problem:
                self.add_error("event", problem)
        if event is not None and cleaned.get("lap_time_s") is not None:
            problem = services.implausible_problem(event, cleaned["lap_time_s"], cleaned.get("source", ""),
                                                   bool(cleaned.get("confirmed_implausible")))
            if problem:
                self.add_error("confirmed_implausible", problem)
        return cleaned


@admin.register(LapResult)
class LapResultAdmin(RecordedByMixin, OrganiserScopedAdmin):
    league_lookup = "event__league"
    list_display = ("team", "event", "lap_number", "lap_time_s", "resets", "valid", "source", "recorded")
    # Numbers are the server's (the team's next one); attempts, rounds and crossings are the console's.
    readonly_fields = ("lap_number", "attempt", "round", "crossing", "ends_at_s")
    list_filter = ("valid", "source", "event__kind", ("event", admin.RelatedOnlyFieldListFilter))
    search_fields = ("team__name", "event__name", "note")
    list_select_related = ("team", "event", "event__league")
    ordering = ("event", "team", "lap_number")
    actions = ("mark_valid", "mark_invalid")
    form = LapResultForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        teams = selectors.lap_team_choices(request.user, obj.event if obj is not None else None)
        if obj is not None:
            teams = (teams | Team.objects.filter(pk=obj.team_id)).distinct()  # an old lap keeps its team
        _limit_team_choices(form, teams)
        return form

    def save_model(self, request, obj, form, change):
        # The event's race rules decide validity here as everywhere a lap is recorded: save_lap, which
        # also numbers a new lap and writes the audit entry.
        if services.apply_race_rules(obj):
            self.message_user(request, f"This lap has {obj.resets} resets, more than the event allows "
                                       f"({obj.event.max_resets_per_lap}): it is stored as invalid.", messages.WARNING)
        self.fill_user_field(request, obj)
        services.save_lap(obj, user=request.user, reason="edited in the admin" if change else "")

    def delete_model(self, request, obj):
        services.delete_lap(obj, user=request.user, reason="deleted in the admin")

    def delete_queryset(self, request, queryset):
        for lap in queryset:
            services.delete_lap(lap, user=request.user, reason="deleted in the admin")

    @admin.action(description="Mark selected laps valid", permissions=["change"])
    def mark_valid(self, request, queryset):
        updated, kept = services.mark_laps(queryset, valid=True, user=request.user)
        self.message_user(request, f"{updated} lap(s) marked valid.", messages.SUCCESS)
        if kept:
            self.message_user(request, f"{kept} lap(s) have more resets than their event allows and stay invalid.",
                              messages.WARNING)

    @admin.action(description="Mark selected laps invalid", permissions=["change"])
    def mark_invalid(self, request, queryset):
        updated, _ = services.mark_laps(queryset, valid=False, user=request.user)
        self.message_user(request, f"{updated} lap(s) marked invalid.", messages.SUCCESS)


# --- Race operations: rounds, attempts, the audit log and timer devices ---------------------------------

class ReadOnlyMixin:
    """Changed only through the race services (the console, the lap timer), never typed in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HeatInline(ReadOnlyMixin, admin.TabularInline):
    model = Heat
    fields = ("key", "group", "team_a", "seed_a", "team_b", "seed_b", "winner")
    readonly_fields = fields
    extra = 0


@admin.register(Round)
class RoundAdmin(OrganiserScopedAdmin):
    league_lookup = "event__league"
    list_display = ("name", "event", "order", "kind", "status")
    list_filter = ("kind", "status", ("event", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("event", "event__league")
    fields = ("event", "name", "order", "kind", "ranking_rule", "consecutive_laps", "group_count", "status",
              "seeded_from")
    readonly_fields = ("seeded_from",)
    inlines = [HeatInline]
    actions = ("seed_from_previous", "decide_raced_heats")

    def _report(self, request, label, exc) -> None:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        self.message_user(request, f"{label}: {text}", messages.ERROR)

    @admin.action(description="Seed selected rounds from the round before them", permissions=["change"])
    def seed_from_previous(self, request, queryset):
        from . import rounds

        for race_round in queryset.select_related("event", "event__league"):
            previous = (Round.objects.filter(event=race_round.event, order__lt=race_round.order)
                        .order_by("-order", "-pk").first())
            if previous is None:
                self.message_user(request, f"{race_round}: no earlier round to seed from.", messages.ERROR)
                continue
            try:
                rounds.seed_round(user=request.user, race_round=race_round, from_round=previous)
            except (ValidationError, PermissionDenied, ValueError) as exc:
                self._report(request, str(race_round), exc)
            else:
                self.message_user(request, f"{race_round}: seeded from {previous.name}.", messages.SUCCESS)

    @admin.action(description="Decide the raced heats of selected rounds", permissions=["change"])
    def decide_raced_heats(self, request, queryset):
        from . import rounds

        for race_round in queryset.select_related("event", "event__league"):
            heats = race_round.heats.filter(winner__isnull=True, team_a__isnull=False, team_b__isnull=False,
                                            attempts__isnull=False).distinct()
            for heat in heats:
                try:
                    decided = rounds.decide_heat(user=request.user, heat=heat)
                except (ValidationError, PermissionDenied, ValueError) as exc:
                    self._report(request, f"{race_round.name} {heat.key}", exc)
                else:
                    self.message_user(request, f"{race_round.name} {heat.key}: {decided.winner} wins.",
                                      messages.SUCCESS)


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyMixin, OrganiserScopedAdmin):
    league_lookup = "event__league"
    list_display = ("team", "event", "round", "number", "status", "started_at", "throttle_percent", "version")
    list_filter = ("status", ("event", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("team", "event", "event__league", "round")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyMixin, OrganiserScopedAdmin):
    league_lookup = "event__league"
    list_display = ("at", "event", "actor_label", "action", "lap", "attempt", "reason", "undone_by")
    list_filter = ("action", ("event", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("event", "event__league", "lap", "lap__team", "attempt", "attempt__team")
    search_fields = ("actor_label", "reason")
    actions = ("export_csv",)

    @admin.action(description="Export the audit log of the selected entries' events (CSV)", permissions=["view"])
    def export_csv(self, request, queryset):
        events = Event.objects.filter(pk__in=queryset.values("event_id")).select_related("league")
        text = "".join(services.audit_csv(request.user, event) for event in events)
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response


class TimerDeviceForm(forms.ModelForm):
    class Meta:
        model = TimerDevice
        fields = ("event", "name", "debounce_s")


@admin.register(TimerDevice)
class TimerDeviceAdmin(OrganiserScopedAdmin):
    """Creating a device shows its token once (only a hash is kept); revoking stops it at once."""

    league_lookup = "event__league"
    form = TimerDeviceForm
    list_display = ("name", "event", "prefix", "debounce_s", "active", "last_seen")
    list_filter = ("active", ("event", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("event", "event__league")
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        return ("event",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "debounce_s"])
            return
        try:
            device, raw = race.issue_device(user=request.user, event=obj.event, name=obj.name,
                                            debounce_s=obj.debounce_s)
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from exc
        obj.pk, obj.prefix, obj.token_hash, obj.created = device.pk, device.prefix, device.token_hash, device.created
        obj._state.adding = False
        self.message_user(request, f"The token of “{device.name}” (shown only now, copy it to the device): {raw}",
                          messages.WARNING)

    @admin.action(description="Revoke selected devices", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(race.revoke_device(user=request.user, device=device) for device in queryset)
        self.message_user(request, f"{revoked} device(s) revoked.", messages.SUCCESS)


@admin.register(Crossing)
class CrossingAdmin(ReadOnlyMixin, OrganiserScopedAdmin):
    league_lookup = "device__event__league"
    list_display = ("crossing_id", "device", "sensor", "device_time_us", "received", "status", "lap")
    list_filter = ("status", ("device", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("device", "lap")
    actions = ("ignore", "restore")

    def _apply(self, request, queryset, action) -> None:
        for crossing in queryset:
            try:
                action(user=request.user, crossing=crossing, reason="in the admin")
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{crossing.crossing_id}: {' '.join(getattr(exc, 'messages', [str(exc)]))}",
                                  messages.ERROR)

    @admin.action(description="Ignore selected crossings (laps recomputed)", permissions=["view"])
    def ignore(self, request, queryset):
        self._apply(request, queryset, race.ignore_crossing)

    @admin.action(description="Count selected crossings again (laps recomputed)", permissions=["view"])
    def restore(self, request, queryset):
        self._apply(request, queryset, race.restore_crossing)
