"""Serving an ASGI app with uvicorn on a background thread, on a port known before it starts,
and the start, stop and wait of the fakes served that way (Slack's, HubSpot's)."""

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

import uvicorn
from starlette.types import ASGIApp

T = TypeVar("T")

# How long a fake keeps an idle keep-alive connection: longer than its clients keep one (httpx
# drops its own after 5 s), so a client never sends on a connection the fake is closing at
# that moment. At uvicorn's default, also 5 s, a burst benchmark's request to the emulator
# was reset as the two timed out together.
IDLE_CONNECTION_SECONDS = 75


class BackgroundServer:
    """One uvicorn server (h11, no lifespan, quiet) on its own thread."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = socket.create_server((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=IDLE_CONNECTION_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"uvicorn-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} failed to start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()


class Service:
    """Something started and stopped around a `with` block; subclasses define start and stop."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ServedFake(Service):
    """A fake of an outside API, served over real HTTP while started.

    Its state is guarded by `changed`, a condition the fake notifies after every request it
    answers, so a test can wait for what the bot does instead of sleeping.
    """

    def __init__(self, app: ASGIApp, changed: threading.Condition, *, host: str, port: int) -> None:
        self._app = app
        self._changed = changed
        self._host = host
        self._port = port  # 0 picks a free one at the first start; a restart keeps it
        self._server: BackgroundServer | None = None

    def start(self) -> Self:
        self._server = BackgroundServer(self._app, self._host, self._port)
        self._port = self._server.port
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until `predicate()` is truthy (re-checked after every request), and return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                self._changed.wait(remaining)
            return result
