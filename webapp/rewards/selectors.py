"""Read-side queries about reward functions; every lookup is scoped to a team, and another team's
function or version answers 404."""

from __future__ import annotations

import difflib

from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import RewardFunction, RewardFunctionVersion


def functions_of_team(team, *, archived: bool = False):
    """The team's reward functions, each annotated with its latest version's number, verdict
    (`latest_ok`: None, True, False), validation track and time, and creation time."""
    latest = RewardFunctionVersion.objects.filter(function=OuterRef("pk")).order_by("-number")
    return (RewardFunction.objects.filter(team=team, archived=archived)
            .annotate(latest_number=Subquery(latest.values("number")[:1]),
                      latest_ok=Subquery(latest.values("ok")[:1]),
                      latest_track=Subquery(latest.values("validated_track")[:1]),
                      latest_validated=Subquery(latest.values("validated")[:1]),
                      latest_created=Subquery(latest.values("created")[:1]))
            .order_by("-latest_created", "name"))


def function_of_team_or_404(team, function_id: int) -> RewardFunction:
    return get_object_or_404(RewardFunction.objects.select_related("team"), team=team, pk=function_id)


def versions_of(function: RewardFunction):
    return function.versions.select_related("created_by").order_by("-number")


def latest_version(function: RewardFunction) -> RewardFunctionVersion:
    version = function.versions.order_by("-number").first()
    if version is None:  # every function is created with its version 1
        raise Http404
    return version


def version_of_function_or_404(function: RewardFunction, number: int) -> RewardFunctionVersion:
    return get_object_or_404(RewardFunctionVersion.objects.select_related("function__team", "created_by"),
                             function=function, number=number)


def version_of_team_or_404(team, version_id: int) -> RewardFunctionVersion:
    """One version (by its id) of one of the team's functions; another team's is 404."""
    return get_object_or_404(RewardFunctionVersion.objects.select_related("function__team"),
                             function__team=team, pk=version_id)


def versions_of_team(team):
    """Every version of the team's live (not archived) functions, for choosers such as the RL
    training form: by function name, newest version first."""
    return (RewardFunctionVersion.objects.filter(function__team=team, function__archived=False)
            .select_related("function").order_by("function__name", "-number"))


def trainable_versions_of_team(team):
    """The versions training may use (validation passed: `services.check_trainable`), same order."""
    return versions_of_team(team).filter(ok=True)


#: The side-by-side diff compares each removed line with each added one of a changed block, and
#: their characters (difflib's `_fancy_replace`, cubic in the block's lines): two 64 KB versions
#: that differ everywhere took minutes of the web process's CPU. Past these bounds only the
#: unified diff (linear in practice) is shown.
DIFF_TABLE_MAX_PAIRS = 2500
DIFF_TABLE_MAX_LINE_CHARS = 300


def diff_table(old: RewardFunctionVersion, new: RewardFunctionVersion) -> str | None:
    """A side-by-side HTML table of the changes from `old` to `new` (difflib escapes the code), or
    None when the changes are too large for one (`DIFF_TABLE_MAX_PAIRS` removed x added lines in
    all, or a changed line longer than `DIFF_TABLE_MAX_LINE_CHARS`): show `unified_diff` then."""
    a, b = old.source.splitlines(), new.source.splitlines()
    pairs = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
        if tag != "replace":  # lines only removed or only added are listed as they are
            continue
        pairs += (i2 - i1) * (j2 - j1)
        if pairs > DIFF_TABLE_MAX_PAIRS or any(len(line) > DIFF_TABLE_MAX_LINE_CHARS for line in a[i1:i2] + b[j1:j2]):
            return None
    differ = difflib.HtmlDiff(tabsize=4, wrapcolumn=64)
    return differ.make_table(a, b, fromdesc=f"Version {old.number}", todesc=f"Version {new.number}",
                             context=True, numlines=3)


def unified_diff(old: RewardFunctionVersion, new: RewardFunctionVersion) -> str:
    name = new.function.name
    return "".join(difflib.unified_diff(old.source.splitlines(keepends=True), new.source.splitlines(keepends=True),
                                        fromfile=f"{name} v{old.number}", tofile=f"{name} v{new.number}"))
