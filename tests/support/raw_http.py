"""A raw-socket HTTP/1.1 client for request bodies no test should build in memory: the body comes
from a generator and goes out piece by piece, and sending stops as soon as the server answers or
closes, so a test sees what the server did before it read the body."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int | None      # None: the server closed without answering
    interim: list[int]      # 1xx answers before it ("100 Continue")
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    head: str                # the status line and headers as sent
    body: bytes
    sent_bytes: int         # body bytes the socket accepted before the server answered or closed
    closed: bool            # the server closed the connection after its answer


def zeros(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    block = b"\0" * piece
    while total > 0:
        yield block[:min(piece, total)]
        total -= piece


def multipart_body(total: int, boundary: str = "pitlaneboundary", field: str = "file") -> tuple[int, Iterator[bytes]]:
    """(Content-Length, pieces) of a multipart/form-data body with one file of `total` zero bytes."""
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"big.zip\"\r\n"
            f"Content-Type: application/zip\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def pieces() -> Iterator[bytes]:
        yield head
        yield from zeros(total)
        yield tail

    return len(head) + total + len(tail), pieces()


def chunked_encoding(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces as Transfer-Encoding: chunked."""
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def send(url: str, method: str, path: str, headers: dict[str, str], body: Iterable[bytes],
         timeout_s: float = 30.0) -> RawResponse:
    """Send the request, streaming `body`; stop sending when the server answers or closes, then
    read the answer to its end (or to the connection's end)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout_s)
    sent, interim = 0, []
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall((head + "\r\n").encode())
        try:
            for piece in body:
                if select.select([sock], [], [], 0)[0]:
                    status = _take_interim(sock)
                    if status is None:
                        break  # the server has answered (or closed) before the body ended
                    interim.append(status)
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _read_response(sock, sent, interim)
    finally:
        sock.close()


def _take_interim(sock: socket.socket) -> int | None:
    """Read a waiting 1xx answer off the socket and return its status; None if what waits is
    something else (left unread)."""
    early = sock.recv(65536, socket.MSG_PEEK)
    end = early.find(b"\r\n\r\n")
    if not early.startswith(b"HTTP/1.1 1") or end < 0:
        return None
    sock.recv(end + 4)
    return int(early.split()[1])


def _read_response(sock: socket.socket, sent: int, interim: list[int]) -> RawResponse:
    data = b""
    while True:
        response = _read_one(sock, sent, data)
        if response.status is None or response.status >= 200:
            response.interim = interim
            return response
        interim.append(response.status)
        data = response.body  # what followed the 1xx answer


def _read_one(sock: socket.socket, sent: int, data: bytes) -> RawResponse:
    closed = False
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                closed = True
                break
            data += piece
    except ConnectionResetError:
        closed = True
    if b"\r\n\r\n" not in data:
        return RawResponse(None, [], {}, "", data, sent, True)
    raw_head, body = data.split(b"\r\n\r\n", 1)
    head = raw_head.decode("latin-1")
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    if status < 200:
        return RawResponse(status, [], headers, head, body, sent, False)
    length = int(headers.get("content-length", "-1"))
    try:
        while not closed and (length < 0 or len(body) < length):
            piece = sock.recv(65536)
            if not piece:
                closed = True
                break
            body += piece
        if not closed:  # the answer is complete; does the server close the connection after it?
            sock.settimeout(5)
            closed = sock.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except TimeoutError:
        pass  # still open
    return RawResponse(status, [], headers, head, body, sent, closed)
