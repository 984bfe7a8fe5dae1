from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Pitlane organisers"
admin.site.site_title = "Pitlane admin"
admin.site.index_title = "Leagues, events and results"

urlpatterns = [
    path("", include("webapp.core.urls")),
    path("", include("webapp.accounts.urls")),
    path("leagues/", include("webapp.leagues.urls")),
    path("teams/<slug:team_slug>/jobs/", include("webapp.jobs.urls")),
    path("teams/<slug:team_slug>/tokens/", include("webapp.api.token_urls")),
    path("teams/<slug:team_slug>/datasets/", include("webapp.datasets.urls")),
    path("teams/<slug:team_slug>/models/", include("webapp.garage.urls")),
    path("teams/<slug:team_slug>/evaluations/", include("webapp.evaluations.urls")),
    path("teams/<slug:team_slug>/agent/", include("webapp.agent.urls")),
    path("teams/<slug:team_slug>/rewards/", include("webapp.rewards.urls")),
    path("teams/<slug:team_slug>/rl/", include("webapp.rl.urls")),
    path("api/v1/", include("webapp.api.urls")),
    path("admin/", admin.site.urls),
    # Pages without the base template's icon link (admin, error pages) and tools ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}img/favicon.ico")),
]
