"""Model fetch: token, unknown / foreign ids, checksum, cache and offline fallback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from drive_agent.fetch import FetchError, cache_dir_for, fetch_model
from tests.drive_agent.fake_api import TOKEN, FakeApi


@pytest.fixture
def api(tiny_models: Path) -> Iterator[FakeApi]:
    server = FakeApi.for_tiny(tiny_models)
    yield server
    server.stop()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_fetch_verifies_and_caches(api: FakeApi, tmp_path: Path) -> None:
    fetched = fetch_model(42, api.url, TOKEN, cache_root=tmp_path)
    assert not fetched.from_cache and fetched.card.kind == "regression_steering"
    assert fetched.model_path == cache_dir_for(api.url, 42, tmp_path) / "model.tflite"
    assert fetched.model_path.read_bytes() == api.model_bytes
    assert fetched.model_path.parent.parent.name == api.url.split("//")[1].replace(":", "_")
    assert {p for p, _ in api.requests} == {"/api/v1/models/42/", "/api/v1/models/42/tflite"}
    assert all(auth == f"Bearer {TOKEN}" for _, auth in api.requests)
    api.requests.clear()
    fetch_model(42, api.url, TOKEN, cache_root=tmp_path)   # verified cached bytes: no second download
    assert [p for p, _ in api.requests] == ["/api/v1/models/42/"]


def test_wrong_token_is_401_message_with_the_servers_reason(api: FakeApi, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"rejected the API token \(401: Invalid token\.\)"):
        fetch_model(42, api.url, "plt_wrong", cache_root=tmp_path)


@pytest.mark.parametrize("model_id", [7, 999])
def test_unknown_or_foreign_model_is_404_message(api: FakeApi, tmp_path: Path, model_id: int) -> None:
    with pytest.raises(FetchError, match=r"no such model \(404 .*another team"):
        fetch_model(model_id, api.url, TOKEN, cache_root=tmp_path)


def test_checksum_mismatch_is_refused_and_not_cached(api: FakeApi, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch_model(13, api.url, TOKEN, cache_root=tmp_path)
    assert not (cache_dir_for(api.url, 13, tmp_path) / "model.tflite").exists()


def test_offline_uses_the_cache(api: FakeApi, tmp_path: Path) -> None:
    online = fetch_model(42, api.url, TOKEN, cache_root=tmp_path)
    api.stop()
    offline = fetch_model(42, api.url, TOKEN, cache_root=tmp_path, timeout=2)
    assert offline.from_cache and offline.model_path == online.model_path
    assert offline.card == online.card and offline.sha256 == online.sha256


def test_offline_without_cache_or_with_corrupt_cache(api: FakeApi, tmp_path: Path) -> None:
    url = closed_port_url()
    with pytest.raises(FetchError, match=r"cannot reach .* not cached"):
        fetch_model(42, url, TOKEN, cache_root=tmp_path, timeout=2)
    fetched = fetch_model(42, api.url, TOKEN, cache_root=tmp_path)
    fetched.model_path.write_bytes(b"tampered")
    api.stop()
    with pytest.raises(FetchError, match="fails its checksum"):
        fetch_model(42, api.url, TOKEN, cache_root=tmp_path, timeout=2)


@pytest.mark.parametrize("server", ["notaurl", "127.0.0.1:8000", "ftp://example.org", "http://"])
def test_a_server_that_is_no_http_url_is_one_line_not_a_traceback(tmp_path: Path, server: str) -> None:
    with pytest.raises(FetchError, match=r"is not an http\(s\) URL: give --server"):
        fetch_model(42, server, TOKEN, cache_root=tmp_path)


@pytest.mark.parametrize("pasted", [f"{TOKEN}\r", f" {TOKEN}\n", f"{TOKEN} "])
def test_a_token_pasted_with_a_line_end_or_spaces_still_works(api: FakeApi, tmp_path: Path, pasted: str) -> None:
    fetched = fetch_model(42, api.url + "/ ", pasted, cache_root=tmp_path)
    assert not fetched.from_cache
    assert all(auth == f"Bearer {TOKEN}" for _, auth in api.requests)


def test_a_token_with_a_line_break_inside_is_refused_with_a_message(api: FakeApi, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="spaces or control characters"):
        fetch_model(42, api.url, TOKEN[:5] + "\r\n" + TOKEN[5:], cache_root=tmp_path)
    assert api.requests == []
