"""Serving an ASGI app over real HTTP in a background thread (a free loopback port by default)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    """One uvicorn server on ``127.0.0.1`` and a port the kernel picks (or the given ones)."""

    def __init__(self, app: Any, *, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self._app = app
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self, *, timeout: float = 10.0) -> str:
        """Start serving; return the base URL (``http://127.0.0.1:PORT``)."""
        # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only
        # when the listening socket says it is TCP; without it every response (headers, then
        # body) waits for the client's delayed ACK, about 40 ms.
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            # Injected drops fail the app on purpose; uvicorn would log each as an error.
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        # Run in a thread, uvicorn leaves signals to the application embedding the sandbox.
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{self.name}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox server for {self.name} did not start")
            time.sleep(0.01)
        shown = f"[{self._host}]" if family == socket.AF_INET6 else self._host
        if self._host in ("0.0.0.0", "::"):  # noqa: S104 - naming it, not binding
            shown = "127.0.0.1" if family == socket.AF_INET else "[::1]"
        self.base_url = f"http://{shown}:{port}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
