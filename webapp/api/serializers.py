from rest_framework import serializers

from webapp.accounts.models import Team
from webapp.jobs.models import Job


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "created", "members"]

    def get_members(self, team) -> list[dict]:
        return [{"username": m.user.username, "role": m.role} for m in team.memberships.select_related("user")]


class JobSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Job
        fields = [
            "id", "kind", "title", "team", "status", "progress", "message", "metrics", "error",
            "cancel_requested", "attempts", "created", "started", "finished", "result",
        ]
        read_only_fields = fields
