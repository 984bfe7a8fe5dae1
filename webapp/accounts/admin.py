"""Teams in the admin: superusers only (organisers manage leagues, never teams)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from webapp.core.admin import SuperuserOnlyAdmin

from .models import Invite, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Team)
class TeamAdmin(SuperuserOnlyAdmin):
    list_display = ("name", "slug", "member_count", "created")
    search_fields = ("name", "slug", "memberships__user__username")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created",)
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, team):
        return team._members


@admin.register(Membership)
class MembershipAdmin(SuperuserOnlyAdmin):
    list_display = ("user", "team", "role", "joined")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "team__name")
    list_select_related = ("user", "team")
    raw_id_fields = ("user", "team")


@admin.register(Invite)
class InviteAdmin(SuperuserOnlyAdmin):
    list_display = ("code", "team", "created_by", "created", "expires", "revoked", "uses")
    list_filter = ("revoked",)
    search_fields = ("code", "team__name")
    list_select_related = ("team", "created_by")
    raw_id_fields = ("team", "created_by")
