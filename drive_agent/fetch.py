"""Fetch a team's model (card + TFLite) from the Pitlane API, verify it, and cache it.

Race venues have poor networks, so every verified download is kept under
`~/.cache/pitlane/models/{server-host}/{id}/` and reused when the server cannot be reached.
Only stdlib urllib is used so the agent stays small on a car's computer. Every failure raises
`FetchError` with one line a racer can act on.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drive_agent.model_card import ModelCard, ModelCardError, load_model_card, parse_model_card

DEFAULT_SERVER = "http://127.0.0.1:8000"
MODEL_FILE = "model.tflite"
CARD_FILE = "model_card.json"
META_FILE = "meta.json"


class FetchError(RuntimeError):
    """A model could not be fetched (or found in the cache); the message is one line."""


@dataclass(frozen=True)
class FetchedModel:
    model_id: int
    model_path: Path
    card: ModelCard
    sha256: str
    from_cache: bool
    """True when the server could not be reached and the cached copy is used."""


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pitlane" / "models"


def cache_dir_for(server: str, model_id: int, cache_root: Path | None = None) -> Path:
    host = urllib.parse.urlsplit(server).netloc or "local"
    return (cache_root or default_cache_root()) / host.replace(":", "_") / str(model_id)


def fetch_model(model_id: int, server: str = DEFAULT_SERVER, token: str | None = None,
                cache_root: Path | None = None, timeout: float = 10.0) -> FetchedModel:
    """Card and model of `model_id` from `server`, verified by sha256; the cache when offline."""
    server = _checked_server(server)
    token = _checked_token(token)
    cache = cache_dir_for(server, model_id, cache_root)
    info_url = f"{server}/api/v1/models/{model_id}/"
    try:
        info = json.loads(_get(info_url, token, timeout))
    except _Offline as exc:
        return _from_cache(model_id, cache, f"cannot reach {server} ({exc})")
    except json.JSONDecodeError as exc:
        raise FetchError(f"{info_url} did not answer JSON: {exc}") from exc
    if not isinstance(info, dict) or not isinstance(info.get("card"), dict):
        raise FetchError(f"{info_url} answered without a model card")
    try:
        card = parse_model_card(info["card"])
    except ModelCardError as exc:
        raise FetchError(f"model {model_id}: invalid model card: {exc}") from exc
    expected = str(info.get("tflite_sha256") or card.tflite.sha256).lower()
    if not expected:
        raise FetchError(f"model {model_id}: the server gives no sha256 checksum for the model")

    model_path = cache / MODEL_FILE
    if not (model_path.exists() and _sha256(model_path.read_bytes()) == expected):
        tflite_url = urllib.parse.urljoin(info_url, str(info.get("tflite_url") or "tflite"))
        same_origin = _origin(tflite_url) == _origin(info_url)
        try:
            data = _get(tflite_url, token if same_origin else None, timeout)
        except _Offline as exc:
            return _from_cache(model_id, cache, f"cannot download the model from {server} ({exc})")
        actual = _sha256(data)
        if actual != expected:
            raise FetchError(f"model {model_id}: checksum mismatch (expected sha256 {expected[:12]}..., "
                             f"got {actual[:12]}...); the download is not used")
        _write_atomic(model_path, data)
    _write_atomic(cache / CARD_FILE, json.dumps(info["card"], indent=1).encode())
    meta = {"id": model_id, "name": info.get("name"), "kind": info.get("kind"), "sha256": expected,
            "server": server, "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _write_atomic(cache / META_FILE, json.dumps(meta, indent=1).encode())
    return FetchedModel(model_id, model_path, card, expected, from_cache=False)


def _checked_server(server: str) -> str:
    """`server` without surrounding spaces or a trailing slash; a FetchError unless it is an
    http(s) address (urllib would raise a bare ValueError on "127.0.0.1:8000" or "notaurl")."""
    server = server.strip().rstrip("/")
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError(f"the server address {server!r} is not an http(s) URL: give --server (or PITLANE_SERVER) "
                         f"as http://HOST:PORT")
    return server


def _checked_token(token: str | None) -> str | None:
    """The token without the spaces or line end a copy-paste or `$(cat token.txt)` from a Windows
    file leaves around it (a "\r" in the header made urllib raise a bare ValueError); None when empty."""
    token = (token or "").strip()
    if any(c.isspace() or not c.isprintable() for c in token):
        raise FetchError("the API token holds spaces or control characters: check --token or PITLANE_TOKEN")
    return token or None


class _Offline(Exception):
    """The server could not be reached at all (as opposed to an HTTP error answer)."""


def _get(url: str, token: str | None, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json, */*"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise FetchError(_http_message(exc.code, url, _error_detail(exc), token_given=bool(token))) from None
    except urllib.error.URLError as exc:
        raise _Offline(str(exc.reason)) from None
    except (TimeoutError, ConnectionError) as exc:
        raise _Offline(str(exc) or type(exc).__name__) from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """The server's reason ({"detail": ...}, the API's error body), or "" when it gives none."""
    try:
        detail = json.loads(exc.read(4096) or b"{}").get("detail", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return detail.strip()[:300] if isinstance(detail, str) else ""


def _http_message(code: int, url: str, detail: str = "", token_given: bool = True) -> str:
    """One line for an HTTP error answer, with the server's reason when it gives one."""
    if code in (401, 403) and not token_given:
        return (f"no API token was given (the server answered {code}): pass --token or set PITLANE_TOKEN "
                "(create one on the team's API tokens page)")
    reason = f"{code}: {detail}" if detail else str(code)
    if code == 401:
        return f"the server rejected the API token ({reason}): check --token or PITLANE_TOKEN"
    if code == 403:
        return f"the API token may not read this model ({reason})"
    if code == 404:
        return f"no such model (404 for {url}): unknown id, or a model of another team"
    if detail:
        return f"the server refused {url} (HTTP {reason})"
    return f"the server answered HTTP {code} for {url}"


def _from_cache(model_id: int, cache: Path, reason: str) -> FetchedModel:
    model_path, card_path, meta_path = cache / MODEL_FILE, cache / CARD_FILE, cache / META_FILE
    if not (model_path.exists() and card_path.exists() and meta_path.exists()):
        raise FetchError(f"{reason}, and model {model_id} is not cached in {cache}")
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        card = load_model_card(card_path)
    except (json.JSONDecodeError, OSError, ModelCardError) as exc:
        raise FetchError(f"{reason}, and the cached copy in {cache} is unreadable: {exc}") from exc
    if _sha256(model_path.read_bytes()) != meta.get("sha256"):
        raise FetchError(f"{reason}, and the cached model in {cache} fails its checksum")
    return FetchedModel(model_id, model_path, card, meta["sha256"], from_cache=True)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
