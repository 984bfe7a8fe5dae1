"""A tiny stand-in for the Pitlane API (http.server in a thread) for fetch and CLI tests."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKEN = "plt_good"


class FakeApi:
    """Serves model 42 (ours), 7 (another team's: 404) and 13 (bytes that fail their checksum)."""

    def __init__(self, model_bytes: bytes, card: dict) -> None:
        self.model_bytes, self.card = model_bytes, card
        self.requests: list[tuple[str, str | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, b'{"detail": "Invalid token."}')
                parts = self.path.strip("/").split("/")
                if parts[:3] != ["api", "v1", "models"] or len(parts) < 4 or parts[3] not in ("42", "13"):
                    return self._send(404, b'{"detail": "Not found."}')
                sha = hashlib.sha256(api.model_bytes).hexdigest()
                if len(parts) == 5 and parts[4] == "tflite":
                    body = api.model_bytes if parts[3] == "42" else api.model_bytes[::-1]
                    return self._send(200, body, "application/octet-stream")
                info = {"id": int(parts[3]), "name": "tiny", "kind": api.card["kind"], "card": api.card,
                        "tflite_sha256": sha, "tflite_url": f"/api/v1/models/{parts[3]}/tflite"}
                return self._send(200, json.dumps(info).encode())

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @classmethod
    def for_tiny(cls, folder: Path, name: str = "regression_float") -> FakeApi:
        return cls((folder / f"{name}.tflite").read_bytes(), json.loads((folder / f"{name}.json").read_text()))
