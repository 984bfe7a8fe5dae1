"""Websocket of a signed-in user: job updates of the user's own teams, nothing else."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from webapp.accounts.selectors import team_ids_of

from .models import Job
from .notify import team_group


class JobUpdatesConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = [team_group(team_id) for team_id in await database_sync_to_async(team_ids_of)(user)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # The page may have missed updates while it loaded: send the state from the database.
        await self.send_json({"type": "snapshot", "jobs": await self._snapshot()})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "refresh":
            await self.send_json({"type": "snapshot", "jobs": await self._snapshot()})

    async def job_update(self, event):
        await self.send_json({"type": "job", "job": event["job"]})

    @database_sync_to_async
    def _snapshot(self) -> list[dict]:
        team_ids = [int(g.split(".")[1]) for g in self.groups_joined]
        jobs = Job.objects.filter(team_id__in=team_ids).select_related("team").order_by("-created")[:100]
        return [job.as_event() for job in jobs]
