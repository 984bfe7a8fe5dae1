"""The RL training form and pages through the web client: defaults and ranges shown, RLConfig's
rules shown on the field to blame, advanced JSON, the action space editor's data, clones with the
clone plan, the live history endpoint, and RL models in the garage's list and page."""

import json

import pytest
from django.urls import reverse

from tests.rl_web.helpers import form_data, validated_version
from training.rl.config import RLConfig
from webapp.garage.models import TrainedModel
from webapp.jobs.models import Job
from webapp.rl import services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pitlane_dirs")]


@pytest.fixture
def alpha(client, team_a):
    client.force_login(team_a.captain)
    return team_a, validated_version(team_a)


def _post(client, team, data, query=""):
    return client.post(reverse("rl_train", args=[team.slug]) + query, data)


def test_form_shows_choices_defaults_and_ranges(client, alpha):
    team, version = alpha
    untested = validated_version(team, name="Not validated yet")
    untested.ok = None
    untested.save(update_fields=["ok"])
    page = client.get(reverse("rl_train", args=[team.slug])).content.decode()
    assert "Centre line v1" in page and "Not validated yet" not in page  # only validated versions
    assert 'value="reinvent_base"' in page and 'value="reinvent_base:reverse"' in page
    assert "reinvent_base (clockwise)" in page and "pitlane_loop (counter-clockwise)" in page
    assert "pitlane_loop_road" not in page  # road-scale tracks are not for the DeepRacer car
    # DeepRacer's names, defaults and ranges in the help text; the bounds as input limits too.
    assert "Default 0.0003, range 1e-08–0.001" in page and "Default 60, range 10–1440" in page
    assert 'name="max_minutes"' in page and 'min="10"' in page and 'max="1440"' in page
    assert "Default 0.99" in page and "Default 20, range 5–100" in page and "huber" in page
    # The action space editor's presets and limits.
    presets = json.loads(page.split('id="rl-presets" type="application/json">')[1].split("</script>")[0])
    assert presets["console"]["space"] == RLConfig().to_dict()["action_space"]
    assert max(a["speed"] for a in presets["fast15"]["space"]) == 3.5 and presets["continuous"]["type"] == "continuous"
    for preset in presets.values():  # every preset is a configuration RLConfig accepts
        RLConfig(action_space=preset["space"], action_space_type=preset["type"])
    limits = json.loads(page.split('id="rl-limits" type="application/json">')[1].split("</script>")[0])
    assert limits == {"max_steering_deg": 30.0, "min_speed": 0.1, "max_speed": 4.0}
    assert f'href="{reverse("reward_list", args=[team.slug])}"' in page


def test_submit_starts_a_run_and_redirects_to_its_live_page(client, alpha):
    team, version = alpha
    space = [{"steering_angle": s, "speed": v} for s in (-30, 0, 30) for v in (1.5, 3.0)]
    response = _post(client, team, form_data(
        version, tracks=["reinvent_base", "pitlane_loop:reverse"], action_space=json.dumps(space),
        lr="0.0001", max_minutes="15", target_completion_pct="90", domain_randomization="on", seed="7",
        stack_size="2", advanced_json='{"max_seconds": 20, "num_envs": 4}'))
    model = TrainedModel.objects.get()
    assert response.status_code == 302 and response.url == reverse("rl_model", args=[team.slug, model.pk])
    config = RLConfig.from_dict(model.config)
    assert [t.key for t in config.tracks] == ["reinvent_base", "pitlane_loop:reverse"]
    assert config.action_space == space and config.lr == 0.0001 and config.max_minutes == 15
    assert config.target_completion_pct == 90 and config.domain_randomization and config.seed == 7
    assert config.stack_size == 2 and config.max_seconds == 20 and config.num_envs == 4
    assert Job.objects.get(pk=model.job_id).kind == "rl.train"
    page = client.get(response.url).content.decode()
    assert f'data-history-url="{reverse("rl_history", args=[team.slug, model.pk])}"' in page
    assert f'data-live-job="{model.job_id}"' in page and "Cancel training" in page
    assert "Centre line v1" in page and "Result and downloads" not in page  # nothing to download yet


def test_continuous_action_space(client, alpha):
    team, version = alpha
    space = {"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 0.5, "high": 3}}
    response = _post(client, team, form_data(version, action_space_type="continuous", action_space=json.dumps(space)))
    assert response.status_code == 302
    config = RLConfig.from_dict(TrainedModel.objects.get().config)
    assert config.action_space_type == "continuous" and config.model_metadata().action_space.speed_range == (0.5, 3.0)


@pytest.mark.parametrize(("changes", "field", "text"), [
    ({"max_minutes": "5"}, "max_minutes", "max_minutes must be in [10, 1440]"),
    ({"discount_factor": "1.5"}, "discount_factor", "discount_factor must be in"),
    ({"action_space": json.dumps([{"steering_angle": 0, "speed": 5.5}, {"steering_angle": 30, "speed": 1}])},
     "action_space", "speed"),
    ({"action_space": "[{"}, "action_space", "Not valid JSON"),
    ({"action_space_type": "continuous"}, "action_space", ""),  # a list is not a continuous space
    ({"tracks": []}, "tracks", "This field is required"),
    ({"advanced_json": '{"clip_epsilon": 7}'}, "advanced_json", "clip_epsilon must be in"),
    ({"advanced_json": '{"bogus": 1}'}, "advanced_json", "unknown configuration key 'bogus'"),
    ({"advanced_json": "[1]"}, "advanced_json", "Give a JSON object"),
])
def test_rules_show_on_the_field_to_blame(client, alpha, changes, field, text):
    team, version = alpha
    response = _post(client, team, form_data(version, **changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert not TrainedModel.objects.exists()


def test_another_teams_or_unvalidated_version_is_not_a_choice(client, alpha, team_b):
    team, _ = alpha
    theirs = validated_version(team_b, name="Bravo secret")
    response = _post(client, team, form_data(theirs))
    assert response.status_code == 200 and "reward_version" in response.context["form"].errors
    failed = validated_version(team, name="Broken", ok=False)
    response = _post(client, team, form_data(failed))
    assert "reward_version" in response.context["form"].errors
    assert not TrainedModel.objects.exists()


def _stopped_parent(client, team, version) -> TrainedModel:
    response = _post(client, team, form_data(version, name="Parent", lr="0.0002",
                                             advanced_json='{"max_seconds": 30, "gae_lambda": 0.9}'))
    assert response.status_code == 302
    parent = TrainedModel.objects.get(name="Parent")
    parent.status = TrainedModel.Status.CANCELLED
    parent.save(update_fields=["status"])
    return parent


def test_clone_prefills_and_explains_a_new_action_space(client, alpha):
    team, version = alpha
    parent = _stopped_parent(client, team, version)
    query = f"?clone={parent.pk}"
    page = client.get(reverse("rl_train", args=[team.slug]) + query).content.decode()
    assert "Clone Parent" in page and 'value="Parent (clone)"' in page and 'value="0.0002"' in page
    # Fields the form has no box for travel in the JSON box, so the clone keeps them.
    assert "{&quot;gae_lambda&quot;: 0.9, &quot;max_seconds&quot;: 30}</textarea>" in page
    assert f'data-clone-plan-url="{reverse("rl_clone_plan", args=[team.slug])}?clone={parent.pk}"' in page

    faster = json.dumps([{"steering_angle": s, "speed": v} for s in (-30, -15, 0, 15, 30) for v in (1.5, 2.5, 3.5)])
    data = form_data(version, name="Faster clone", action_space=faster)
    # The page asks while the action space is edited: clone_plan's sentence about the policy head.
    plan = client.post(reverse("rl_clone_plan", args=[team.slug]) + query, data).json()
    assert plan["changes_action_space"] is True
    assert "from 10 to 15 actions" in plan["explanation"] and "policy head" in plan["explanation"]
    same = client.post(reverse("rl_clone_plan", args=[team.slug]) + query, form_data(version)).json()
    assert same["changes_action_space"] is False and "every weight is kept" in same["explanation"]
    plan_url = reverse("rl_clone_plan", args=[team.slug]) + query
    bad = client.post(plan_url, form_data(version, network="deepracer_shallow"))
    assert bad.status_code == 400 and "A clone cannot change this" in json.dumps(bad.json())

    # Submitting a changed action space needs the box ticked; the refusal says what happens.
    response = _post(client, team, data, query)
    assert response.status_code == 200
    error = " ".join(response.context["form"].errors["confirm_head_change"])
    assert "from 10 to 15 actions" in error and "Tick the box" in error
    response = _post(client, team, {**data, "confirm_head_change": "on"}, query)
    assert response.status_code == 302
    clone = TrainedModel.objects.get(name="Faster clone")
    assert clone.cloned_from == parent and len(clone.config["action_space"]) == 15
    page = client.get(response.url).content.decode()
    assert "cloned from" in page and parent.name in page


def test_a_model_still_training_is_not_clonable(client, alpha):
    team, version = alpha
    assert _post(client, team, form_data(version, name="Busy")).status_code == 302
    busy = TrainedModel.objects.get()
    page = client.get(reverse("rl_model", args=[team.slug, busy.pk])).content.decode()
    assert f"?clone={busy.pk}" not in page
    response = _post(client, team, form_data(version, name="Too early"), f"?clone={busy.pk}")
    assert response.status_code == 200 and "once it is ready or was cancelled" in response.content.decode()


def test_history_endpoint_pages_iteration_rows(client, alpha):
    team, version = alpha
    _post(client, team, form_data(version))
    model = TrainedModel.objects.get()
    for i in range(3):
        services.record_iteration(model, {"iteration": i, "episodes": 5, "reward_mean": i / 2, "eta_s": 100 - i,
                                          "episode_rows": [{"episode": i, "reward": 1.0, "progress": 50.0,
                                                            "steps": 9, "status": "off_track"}]})
    url = reverse("rl_history", args=[team.slug, model.pk])
    everything = client.get(url).json()
    assert [r["iteration"] for r in everything["iterations"]] == [0, 1, 2] and everything["last"] == 2
    assert everything["status"] == "training" and everything["time_limit_s"] == 3600.0
    newer = client.get(url + "?after=1").json()
    assert [r["iteration"] for r in newer["iterations"]] == [2] and newer["episodes"][0]["episode"] == 2
    assert client.get(url + "?after=junk").json()["last"] == 2


def test_rl_models_in_the_garage(client, alpha):
    team, version = alpha
    _post(client, team, form_data(version, name="RL run"))
    model = TrainedModel.objects.get()
    response = client.get(reverse("model_detail", args=[team.slug, model.pk]))
    assert response.status_code == 302 and response.url == reverse("rl_model", args=[team.slug, model.pk])
    listing = client.get(reverse("model_list", args=[team.slug])).content.decode()
    assert "RL run" in listing and "RL · small" in listing and reverse("rl_train", args=[team.slug]) in listing
    # The behavioural-cloning form does not clone an RL model.
    assert client.get(reverse("model_train", args=[team.slug]) + f"?clone={model.pk}").status_code == 404


def test_reward_version_preselected_from_the_reward_page(client, alpha):
    team, version = alpha
    newer = validated_version(team, name="Speed on straights")
    url = reverse("rl_train", args=[team.slug])

    def chooser(query=""):
        return client.get(url + query).content.decode().split('name="reward_version"')[1].split("</select>")[0]

    assert f'<option value="{newer.pk}" selected>' in chooser()  # the newest by default
    chosen = chooser(f"?reward={version.pk}")  # the reward version page's "Train a model with v1"
    assert f'<option value="{version.pk}" selected>' in chosen and f'<option value="{newer.pk}" selected>' not in chosen
