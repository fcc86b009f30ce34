"""The default transport under :class:`~serialsync.http.HttpClient`: HTTP/1.1 on pooled sockets.

httpx's own transport goes through httpcore and h11, general machines (HTTP/2, proxies,
streaming, async) that cost about 0.4 ms of host CPU per request on loopback, where writing
the request and reading the answer off the socket cost 0.07 (issue 22 #4). A connector sends
small requests and reads whole answers, so this transport does only that:

* the request as httpx built it (``Host``, ``Content-Length`` or ``Transfer-Encoding:
  chunked``, the caller's headers), written in one ``sendall``;
* the answer read whole: its head (informational 1xx answers skipped), then a body framed as
  RFC 9112 section 6.3 says: none for ``HEAD``, 1xx, 204 and 304; chunked; ``Content-Length``;
  else until the server closes. Content codings (gzip) are left to :class:`httpx.Response`;
* a connection kept for the next request only when HTTP/1.1 and neither side said ``close``,
  and not used again once the server has closed it or sent anything unasked while it idled,
  nor after 4 s idle (:data:`IDLE_EXPIRY`): a server closes an idle connection after its own
  keep-alive timeout (5 s by default in Apache and uvicorn), and a request written on it at
  that moment fails after it was sent, "maybe applied", never retried;
* httpx's timeouts (``request.extensions["timeout"]``), its limits (100 connections, 20 kept
  idle) and its exceptions (:class:`httpx.ConnectError`, :class:`httpx.ReadTimeout`,
  :class:`httpx.RemoteProtocolError` …), so the client's retry rules read them as before.

TLS verifies as httpx does (:func:`httpx.create_ssl_context`). There is no proxy support:
httpx's transport had none here either (an application that needs one passes its own
``transport``, which :class:`HttpClient` uses as it is).

Tests that mock HTTP below httpx (respx patches httpcore's connection pool; pytest-httpx
patches ``httpx.HTTPTransport.handle_request``) keep working, ours and plugin authors': while
either is patched, a request goes through a plain :class:`httpx.HTTPTransport` instead.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable

import httpcore
import httpx

_MAX_HEAD = 64 * 1024  # larger answer heads are refused, as h11 refuses them
_MAX_CONNECTIONS = 100  # httpx.Limits' defaults
_MAX_IDLE = 20
#: Seconds a connection may idle before it is closed rather than used again: under the 5 s
#: keep-alive timeout of Apache's and uvicorn's defaults (httpx's own expiry is 5 s).
IDLE_EXPIRY = 4.0
_NO_BODY_STATUSES = frozenset({204, 304})
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")  # int(x, 16) alone would take '1_0', ' 1', '0x1'

Origin = tuple[str, str, int]

# What the mocking libraries replace; compared by identity at each request (a few ns).
_HTTPCORE_SEND = httpcore.ConnectionPool.handle_request
_HTTPX_SEND = httpx.HTTPTransport.handle_request


def _mocked() -> bool:
    """True while a test library has patched httpcore's pool or httpx's transport."""
    return (
        httpcore.ConnectionPool.handle_request is not _HTTPCORE_SEND
        or httpx.HTTPTransport.handle_request is not _HTTPX_SEND
    )


class _Connection:
    """One socket to one origin, with what was read past the last answer."""

    __slots__ = ("buffer", "idle_since", "sock", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.timeout: float | None = -1.0  # unset: the first request sets it
        #: When it was last given back to the pool (the transport's clock).
        self.idle_since = 0.0

    def set_timeout(self, value: float | None) -> None:
        # settimeout is a system call: made only when the value changes.
        if value != self.timeout:
            self.sock.settimeout(value)
            self.timeout = value

    def idle_and_open(self) -> bool:
        """True when the server neither closed the socket nor sent anything while it idled."""
        if self.buffer:
            return False
        try:
            poller = select.poll()  # not select.select: it fails on descriptors past 1023
            poller.register(self.sock, select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        """Close the socket (errors ignored: it is being thrown away)."""
        with contextlib.suppress(OSError):
            self.sock.close()


class Http11Transport(httpx.BaseTransport):
    """HTTP/1.1 over pooled, reused sockets: see the module's docstring.

    Thread safe: each request holds its connection alone; idle connections are shared.
    """

    def __init__(
        self,
        *,
        verify: bool = True,
        socket_options: Iterable[tuple[int, int, int]] = (),
        max_connections: int = _MAX_CONNECTIONS,
        max_idle: int = _MAX_IDLE,
        idle_expiry: float = IDLE_EXPIRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verify = verify
        self._idle_expiry = idle_expiry
        self._clock = clock
        self._socket_options = list(socket_options)
        self._ssl_context: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._idle: dict[Origin, list[_Connection]] = {}
        # One lock for the idle connections and the count of requests under way: a request
        # takes it once to start and once to end.
        self._free = threading.Condition(self._lock)
        self._active = 0
        self._max_connections = max_connections
        self._max_idle = max_idle
        self._closed = False
        self._fallback: httpx.HTTPTransport | None = None

    def __repr__(self) -> str:
        return f"<Http11Transport verify={self._verify}>"

    # -- the transport API ------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its answer, body read whole (not yet decoded)."""
        if _mocked():
            return self._through_httpx(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'.", request=request
            )
        # raw_host: the IDNA (punycode) name, as DNS and TLS (SNI) want it; IPv6 unbracketed.
        host = url.raw_host.decode("ascii")
        origin: Origin = (scheme, host, url.port or (443 if scheme == "https" else 80))
        connection = self._checkout(origin, timeouts.get("pool"), request)
        kept: _Connection | None = None
        try:
            if connection is None:
                connection = self._connect(origin, timeouts.get("connect"), request)
            try:
                response, keep = self._exchange(connection, request, timeouts)
            except BaseException:
                connection.close()
                raise
            kept = connection if keep else None
            if kept is None:
                connection.close()
        finally:
            self._checkin(origin, kept)
        return response

    def close(self) -> None:
        """Close every idle connection; the transport takes no request after this."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
            fallback, self._fallback = self._fallback, None
        if fallback is not None:
            fallback.close()
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _through_httpx(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._fallback is None:
                self._fallback = httpx.HTTPTransport(
                    verify=self._verify, socket_options=self._socket_options
                )
            fallback = self._fallback
        return fallback.handle_request(request)

    # -- the pool ---------------------------------------------------------------------------

    def _checkout(
        self, origin: Origin, timeout: float | None, request: httpx.Request
    ) -> _Connection | None:
        """Take a slot (waiting up to the pool timeout) and an open idle connection, if any."""
        with self._free:
            if self._active >= self._max_connections and not self._free.wait_for(
                lambda: self._active < self._max_connections, timeout=timeout
            ):
                raise httpx.PoolTimeout(
                    "no connection free within the pool timeout", request=request
                )
            self._active += 1
            idle = self._idle.get(origin)
            oldest = self._clock() - self._idle_expiry
            while idle:
                connection = idle.pop()
                if connection.idle_since >= oldest and connection.idle_and_open():
                    return connection
                connection.close()
        return None

    def _checkin(self, origin: Origin, connection: _Connection | None) -> None:
        """Give the slot back, and the connection to the idle ones when it may be reused."""
        with self._free:
            self._active -= 1
            self._free.notify()
            if connection is not None and not self._closed:
                idle = self._idle.setdefault(origin, [])
                if len(idle) < self._max_idle:
                    connection.idle_since = self._clock()
                    idle.append(connection)
                    return
        if connection is not None:
            connection.close()

    def _connect(
        self, origin: Origin, timeout: float | None, request: httpx.Request
    ) -> _Connection:
        scheme, host, port = origin
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        try:
            for option in self._socket_options:
                sock.setsockopt(*option)
            if scheme == "https":
                sock = self._tls().wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # ssl.SSLError among them: a refused certificate
            sock.close()
            raise httpx.ConnectError(str(exc), request=request) from exc
        connection = _Connection(sock)
        connection.timeout = timeout
        return connection

    def _tls(self) -> ssl.SSLContext:
        # Made at the first https request: loading the trust store costs tens of milliseconds,
        # which a plain-HTTP connector (the sandbox, a POS on the shop's LAN) never needs.
        with self._lock:
            if self._ssl_context is None:
                context = httpx.create_ssl_context(verify=self._verify)
                context.set_alpn_protocols(["http/1.1"])
                self._ssl_context = context
            return self._ssl_context

    # -- one exchange -----------------------------------------------------------------------

    def _exchange(
        self,
        connection: _Connection,
        request: httpx.Request,
        timeouts: dict[str, float | None],
    ) -> tuple[httpx.Response, bool]:
        """Write the request, read its answer; the answer and whether the socket may be kept."""
        raw_headers = request.headers.raw
        chunked = False
        keep = True
        for name, value in raw_headers:
            if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
                raise httpx.LocalProtocolError("a header holds a line break", request=request)
            lowered = name.lower()
            if lowered == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lowered == b"connection" and b"close" in value.lower():
                keep = False
        head = b"".join(
            [
                request.method.encode("ascii"),
                b" ",
                request.url.raw_path,
                b" HTTP/1.1\r\n",
                *(b"%s: %s\r\n" % pair for pair in raw_headers),
                b"\r\n",
            ]
        )
        connection.set_timeout(timeouts.get("write"))
        try:
            if chunked:
                connection.sock.sendall(head)
                for part in request.stream:  # type: ignore[union-attr]
                    if part:
                        connection.sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                connection.sock.sendall(b"0\r\n\r\n")
            else:
                connection.sock.sendall(head + request.read())
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc), request=request) from exc
        reader = _Reader(connection, request, timeouts.get("read"))
        try:
            return reader.response(keep=keep)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc


class _Reader:
    """Reads one answer off a connection."""

    __slots__ = ("buffer", "connection", "request", "sock")

    def __init__(
        self, connection: _Connection, request: httpx.Request, timeout: float | None
    ) -> None:
        connection.set_timeout(timeout)
        self.connection = connection
        self.sock = connection.sock
        self.buffer = connection.buffer
        self.request = request

    def _error(self, message: str) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(message, request=self.request)

    def _fill(self) -> bool:
        """Read what the socket has into the buffer; False at the end of the stream."""
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def response(self, *, keep: bool) -> tuple[httpx.Response, bool]:
        """The answer (1xx skipped) and whether the connection may serve another request."""
        while True:
            version, status, reason, headers = self._head()
            if status >= 200:
                break
            if status == 101:
                raise self._error("the server switched protocols (101), which is not spoken")
        keep = keep and version == b"HTTP/1.1"
        framing: bytes | None = None
        length: bytes | None = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"transfer-encoding":
                framing = value.lower()
            elif lowered == b"content-length":
                if length is not None and value.strip() != length:
                    raise self._error("the answer has two different Content-Length headers")
                length = value.strip()
            elif lowered == b"connection" and b"close" in value.lower():
                keep = False
        if self.request.method == "HEAD" or status in _NO_BODY_STATUSES:
            body = b""
        elif framing is not None:
            if framing.rsplit(b",", 1)[-1].strip() == b"chunked":
                body = self._chunked()
            else:
                body, keep = self._until_close(), False
            if length is not None:
                keep = False  # both framings: a request smuggling shape, never reused
        elif length is not None:
            if not length.isdigit():
                raise self._error(f"the answer's Content-Length is not a number: {length!r}")
            body = self._exactly(int(length))
        else:
            body, keep = self._until_close(), False
        if self.buffer:
            keep = False  # bytes past the answer: the stream is out of step
        response = httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": version, "reason_phrase": reason},
        )
        return response, keep

    def _head(self) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
        buffer = self.buffer
        searched = 0
        while True:
            end = buffer.find(b"\r\n\r\n", searched)
            if end >= 0:
                break
            if len(buffer) > _MAX_HEAD:
                raise self._error("the answer's head is over 64 KiB")
            searched = max(0, len(buffer) - 3)
            if not self._fill():
                if buffer:
                    raise self._error("the server closed the connection within the answer's head")
                raise self._error("Server disconnected without sending a response.")
        lines = bytes(buffer[:end]).split(b"\r\n")
        del buffer[: end + 4]
        status_line = lines[0].split(b" ", 2)
        version = status_line[0]
        if (
            len(status_line) < 2
            or version not in (b"HTTP/1.1", b"HTTP/1.0")
            or len(status_line[1]) != 3
            or not status_line[1].isdigit()
        ):
            raise self._error(f"not an HTTP/1.1 status line: {lines[0][:100]!r}")
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
                raise self._error(f"not a header line: {line[:100]!r}")
            headers.append((name, value.strip(b" \t")))
        reason = status_line[2] if len(status_line) > 2 else b""
        return version, int(status_line[1]), reason, headers

    def _exactly(self, size: int) -> bytes:
        buffer = self.buffer
        while len(buffer) < size:
            if not self._fill():
                raise self._error(
                    f"the server closed the connection after {len(buffer)} of {size} bytes"
                )
        body = bytes(buffer[:size])
        del buffer[:size]
        return body

    def _line(self) -> bytes:
        buffer = self.buffer
        searched = 0
        while True:
            end = buffer.find(b"\r\n", searched)
            if end >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                return line
            if len(buffer) > _MAX_HEAD:
                raise self._error("a chunk's size line is over 64 KiB")
            searched = max(0, len(buffer) - 1)
            if not self._fill():
                raise self._error("the server closed the connection within a chunked body")

    def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise self._error(f"not a chunk size: {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                while self._line():  # trailer fields, to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._exactly(size))
            if self._exactly(2) != b"\r\n":
                raise self._error("a chunk does not end with CRLF")

    def _until_close(self) -> bytes:
        while self._fill():
            pass
        body = bytes(self.buffer)
        self.buffer.clear()
        return body
