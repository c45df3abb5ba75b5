"""The process's own HTTP endpoint: /metrics, /healthz, /readyz, plus routes added by later features.

Liveness and readiness differ on purpose: /healthz answers 200 as long as the event loop serves
requests (restart me if not); /readyz answers 200 only when the readiness callable says every
component is ready (send me traffic / count me in), and otherwise names what is not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9490

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Readiness:
    """What /readyz reports. `not_ready` maps a component name to why it is not ready."""

    not_ready: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ready(self) -> bool:
        return not self.not_ready


READY = Readiness()
ReadinessCheck = Callable[[], Readiness]


class HttpServer:
    """aiohttp server on host:port (port 0 picks a free one; read it from `port` after start)."""

    def __init__(
        self,
        registry: Collector,
        readiness: ReadinessCheck,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
    ) -> None:
        self._registry = registry
        self._readiness = readiness
        self._host = host
        self._requested_port = port
        self._app = web.Application()
        self._app.router.add_get("/metrics", self._metrics)
        self._app.router.add_get("/healthz", self._healthz)
        self._app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Extend the server (e.g. a status page). Only before `start`: aiohttp freezes the router."""
        if self._runner is not None:
            raise RuntimeError(f"cannot add route {method} {path}: the server has already started")
        self._app.router.add_route(method, path, handler)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the server has already started")
        # No access log: scrapes every few seconds would drown the real logs.
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server has not started; the port is known after start()")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def _metrics(self, request: web.Request) -> web.Response:
        # Collection is synchronous and runs on the loop; scrape-time collectors are cheap on purpose.
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self._registry), headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            readiness = self._readiness()
        except Exception as error:  # a broken check means not ready, not a 500
            return web.json_response(
                {"ready": False, "not_ready": {"readiness_check": f"{type(error).__name__}: {error}"}},
                status=503,
            )
        if readiness.ready:
            return web.json_response({"ready": True, "not_ready": {}})
        return web.json_response({"ready": False, "not_ready": dict(readiness.not_ready)}, status=503)
