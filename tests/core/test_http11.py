"""The default transport (issue 22 #4): HTTP/1.1 on pooled sockets, read as httpx reads it.

A loopback server answers each request with bytes a test scripts, so every framing a platform
or a proxy may use is tried: Content-Length, chunked with extensions and trailers, an answer
ending at the close, HEAD, 204, 1xx before the answer, gzip; and what must not be reused or
must fail: Connection: close, HTTP/1.0, a connection the server closed while it idled, a cut
answer, a malformed head. The same answers through httpx's own transport are the reference.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from serialsync.errors import ConfigurationError
from serialsync.http import TRANSPORT_ENV, HttpClient
from serialsync.http11 import IDLE_EXPIRY, Http11Transport

Script = Callable[[bytes], bytes | None]


class Server:
    """Answers each request read on a connection with ``script(request_bytes)``; ``None``
    closes the connection without an answer. Counts connections accepted."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.close_after = False  # close each connection after its first answer
        self.connections = 0
        self.requests: list[bytes] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                request, buffer = head + b"\r\n\r\n" + buffer[:length], buffer[length:]
                self.requests.append(request)
                answer = self.script(request)
                if answer is None:
                    return
                try:
                    conn.sendall(answer)
                except OSError:  # the client went first
                    return
                if self.close_after:
                    return

    def close_idle(self) -> None:
        """Close every connection from the server's side (as a keep-alive timeout does)."""
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def url(self, path: str = "/x") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self._sock.close()
        self.close_idle()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Server]]:
    servers: list[Server] = []

    def start(script: Script) -> Server:
        servers.append(Server(script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _send(
    transport: httpx.BaseTransport, method: str, url: str, **kwargs: object
) -> httpx.Response:
    request = httpx.Request(method, url, **kwargs)  # type: ignore[arg-type]
    request.extensions["timeout"] = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    response = transport.handle_request(request)
    response.request = request
    response.read()
    return response


def _answer(status: str, headers: list[str], body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + (
        body
    )


ZIPPED = gzip.compress(b'{"zipped": true}')

ANSWERS = {
    "content-length": _answer("200 OK", ["Content-Length: 11", "X-A: 1"], b'{"a": true}'),
    "chunked": _answer(
        "200 OK",
        ["Transfer-Encoding: chunked"],
        b'4;ext=1\r\n{"a"\r\n7\r\n: true}\r\n0\r\nX-Trailer: t\r\n\r\n',
    ),
    "continue first": b"HTTP/1.1 100 Continue\r\n\r\n"
    + _answer("201 Created", ["Content-Length: 2"], b"{}"),
    "no content": _answer("204 No Content", []),
    "gzip": _answer("200 OK", ["Content-Encoding: gzip", f"Content-Length: {len(ZIPPED)}"], ZIPPED),
    "not found, no reason": b"HTTP/1.1 404\r\nContent-Length: 3\r\n\r\nnah",
    "repeated header": _answer(
        "200 OK", ["Set-Cookie: a=1", "Set-Cookie: b=2", "Content-Length: 0"]
    ),
}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_each_framing_reads_as_httpx_reads_it(serve, kind: str) -> None:
    server = serve(lambda _request: ANSWERS[kind])
    ours = _send(Http11Transport(), "GET", server.url())
    reference = _send(httpx.HTTPTransport(), "GET", server.url())
    assert ours.status_code == reference.status_code
    assert ours.headers.multi_items() == reference.headers.multi_items()
    assert ours.content == reference.content
    assert ours.reason_phrase == reference.reason_phrase
    assert ours.http_version == reference.http_version == "HTTP/1.1"


def test_a_body_ending_at_the_close_is_read_whole_and_the_socket_not_kept(serve) -> None:
    server = serve(lambda _request: b"HTTP/1.1 200 OK\r\n\r\nall of it")
    server.close_after = True
    transport = Http11Transport()
    assert _send(transport, "GET", server.url()).content == b"all of it"
    assert _send(transport, "GET", server.url()).content == b"all of it"
    assert server.connections == 2


def test_head_reads_no_body_though_a_length_is_given(serve) -> None:
    server = serve(lambda _request: _answer("200 OK", ["Content-Length: 1234"]))
    transport = Http11Transport()
    assert _send(transport, "HEAD", server.url()).content == b""
    assert _send(transport, "HEAD", server.url()).status_code == 200
    assert server.connections == 1  # the connection stayed in step


def test_a_connection_is_reused_until_the_server_says_close(serve) -> None:
    answers = iter(
        [
            _answer("200 OK", ["Content-Length: 1"], b"1"),
            _answer("200 OK", ["Content-Length: 1", "Connection: close"], b"2"),
            _answer("200 OK", ["Content-Length: 1"], b"3"),
        ]
    )
    server = serve(lambda _request: next(answers))
    transport = Http11Transport()
    assert [_send(transport, "GET", server.url()).content for _ in range(3)] == [
        b"1",
        b"2",
        b"3",
    ]
    assert server.connections == 2


def test_an_http_1_0_answer_is_not_kept(serve) -> None:
    server = serve(lambda _request: b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    server.close_after = True  # as an HTTP/1.0 server does
    transport = Http11Transport()
    _send(transport, "GET", server.url())
    _send(transport, "GET", server.url())
    assert server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_not_used_again(serve) -> None:
    server = serve(lambda _request: _answer("200 OK", ["Content-Length: 2"], b"ok"))
    transport = Http11Transport()
    _send(transport, "GET", server.url())
    server.close_idle()
    deadline = threading.Event()
    deadline.wait(0.05)  # the FIN reaches our socket
    # A POST: sent on the closed socket it would fail as "maybe applied", never retried.
    assert _send(transport, "POST", server.url(), content=b"x").content == b"ok"
    assert server.connections == 2


def test_a_connection_idle_past_the_expiry_is_closed_not_used_again(serve) -> None:
    server = serve(lambda _request: _answer("200 OK", ["Content-Length: 2"], b"ok"))
    now = [100.0]
    transport = Http11Transport(clock=lambda: now[0])
    _send(transport, "GET", server.url())
    now[0] += IDLE_EXPIRY - 0.5
    _send(transport, "GET", server.url())
    assert server.connections == 1  # within the expiry: the same socket
    now[0] += IDLE_EXPIRY + 0.5
    # A server's keep-alive (5 s by default in Apache and uvicorn) may be closing it right now:
    # a POST written on it would fail as "maybe applied", never retried.
    assert _send(transport, "POST", server.url(), content=b"x").content == b"ok"
    assert server.connections == 2
    assert IDLE_EXPIRY < 5.0


def test_the_request_is_written_as_httpx_builds_it(serve) -> None:
    server = serve(lambda _request: _answer("200 OK", ["Content-Length: 0"]))
    _send(
        Http11Transport(),
        "POST",
        server.url("/a/b?q=1&r=%20"),
        json={"k": "v"},
        headers={"X-Token": "t"},
    )
    [request] = server.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /a/b?q=1&r=%20 HTTP/1.1"
    assert f"host: 127.0.0.1:{server.port}".encode() in [line.lower() for line in lines]
    assert b"X-Token: t" in lines or b"x-token: t" in lines
    assert body == b'{"k":"v"}'


def test_a_streamed_body_is_sent_chunked(serve) -> None:
    server = serve(lambda _request: _answer("200 OK", ["Content-Length: 0"]))

    def parts() -> Iterator[bytes]:
        yield b"abc"
        yield b""
        yield b"defgh"

    request = httpx.Request("PUT", server.url(), content=parts())
    request.extensions["timeout"] = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    Http11Transport().handle_request(request).read()
    # The scripted server reads no chunked body: the chunks stay where its next head would be.
    assert b"transfer-encoding: chunked" in server.requests[0].lower()
    waited = threading.Event()
    for _ in range(100):
        if len(server.requests) > 1:
            break
        waited.wait(0.02)
    assert server.requests[1] == b"3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"  # no empty chunk


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/2 200\r\n\r\n",
        b"NONSENSE\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2",
    ],
)
def test_a_cut_or_malformed_answer_is_a_protocol_error(serve, answer: bytes) -> None:
    server = serve(lambda _request: answer)
    server.close_after = True  # a cut answer is one the server stopped sending
    with pytest.raises(httpx.RemoteProtocolError) as raised:
        _send(Http11Transport(), "GET", server.url())
    assert raised.value.request.url == server.url()


def test_no_answer_at_all_is_named_as_httpcore_names_it(serve) -> None:
    server = serve(lambda _request: None)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        _send(Http11Transport(), "GET", server.url())


def test_a_slow_answer_is_a_read_timeout(serve) -> None:
    hold = threading.Event()

    def slow(_request: bytes) -> bytes:
        hold.wait(5)
        return _answer("200 OK", ["Content-Length: 0"])

    server = serve(slow)
    request = httpx.Request("GET", server.url())
    request.extensions["timeout"] = {"connect": 5.0, "read": 0.2, "write": 5.0, "pool": 5.0}
    try:
        with pytest.raises(httpx.ReadTimeout):
            Http11Transport().handle_request(request)
    finally:
        hold.set()


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        _send(Http11Transport(), "GET", f"http://127.0.0.1:{port}/")


def test_a_header_with_a_line_break_is_refused_before_sending(serve) -> None:
    server = serve(lambda _request: _answer("200 OK", ["Content-Length: 0"]))
    request = httpx.Request("GET", server.url())
    request.headers._list.append((b"x-a", b"x-a", b"1\r\nX-Injected: 1"))
    request.extensions["timeout"] = {}
    with pytest.raises(httpx.LocalProtocolError):
        Http11Transport().handle_request(request)
    assert server.requests == []


def test_connections_are_shared_by_threads_one_request_each(serve) -> None:
    server = serve(
        lambda request: _answer("200 OK", ["Content-Length: 5"], request.split(b" ")[1][-5:])
    )
    client = HttpClient(connector="c", base_url=server.url("/"))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                path = f"{n:02d}{i:03d}"
                assert client.get(path).text == path
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert server.connections <= 6
    client.close()


def test_the_client_uses_it_by_default_and_respx_still_mocks(respx_mock) -> None:
    client = HttpClient(connector="c", base_url="https://shop.example/")
    assert isinstance(client._transport, Http11Transport)
    respx_mock.get("https://shop.example/x").respond(json={"mocked": True})
    assert client.get("x").json() == {"mocked": True}


def test_past_its_connections_a_request_waits_for_one_then_times_out(serve) -> None:
    hold = threading.Event()

    def slow(_request: bytes) -> bytes:
        hold.wait(5)
        return _answer("200 OK", ["Content-Length: 0"])

    server = serve(slow)
    transport = Http11Transport(max_connections=1)
    first = threading.Thread(target=_send, args=(transport, "GET", server.url()))
    first.start()
    while not server.requests:
        hold.wait(0.01)
    request = httpx.Request("GET", server.url())
    request.extensions["timeout"] = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 0.1}
    try:
        with pytest.raises(httpx.PoolTimeout):
            transport.handle_request(request)
    finally:
        hold.set()
        first.join()
    # Its connection given back, the next request goes (on it).
    assert _send(transport, "GET", server.url()).status_code == 200
    assert server.connections == 1


def test_an_ipv6_host_is_reached_by_its_address() -> None:
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(_answer("200 OK", ["Content-Length: 2"], b"v6"))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert _send(Http11Transport(), "GET", f"http://[::1]:{port}/").content == b"v6"
    finally:
        thread.join(5)
        listener.close()


def _self_signed(tmp_path) -> tuple[str, str]:
    import datetime

    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_tls_is_verified_and_spoken(tmp_path) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_tls() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(65536)
                    conn.sendall(_answer("200 OK", ["Content-Length: 3"], b"tls"))
            except (OSError, ssl.SSLError):
                continue  # the verifying client refused our certificate

    threading.Thread(target=serve_tls, daemon=True).start()
    try:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            _send(Http11Transport(), "GET", f"https://localhost:{port}/")
        unverified = Http11Transport(verify=False)
        assert _send(unverified, "GET", f"https://localhost:{port}/").content == b"tls"
    finally:
        listener.close()


def test_an_operator_can_go_back_to_httpx_transport_without_code(serve, monkeypatch) -> None:
    """``SERIALSYNC_HTTP_TRANSPORT=httpx`` sends through httpx's own transport, which answers
    the same; a value that names no transport is refused, naming the ones there are."""
    server = serve(lambda request: _answer("200 OK", ["Content-Length: 2"], b"ok"))
    monkeypatch.setenv(TRANSPORT_ENV, " HTTPX ")
    client = HttpClient(connector="c", base_url=server.url("/"))
    assert type(client._transport) is httpx.HTTPTransport
    assert client.get("x").text == "ok"
    client.close()

    monkeypatch.setenv(TRANSPORT_ENV, "serialsync")
    assert isinstance(
        HttpClient(connector="c", base_url="https://a.example/")._transport, Http11Transport
    )
    monkeypatch.setenv(TRANSPORT_ENV, "curl")
    with pytest.raises(ConfigurationError, match="one of serialsync, httpx"):
        HttpClient(connector="c", base_url="https://a.example/")
