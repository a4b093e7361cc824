"""Plain ASGI middleware: request ids, counts and latency (Observe), and the body size limit (BodyLimit)."""

from __future__ import annotations

import time
import uuid

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from apps.api.metrics import Metrics

MAX_BODY_BYTES = 64 * 1024


class Observe:
    """Request id (``request.state.request_id`` and the X-Request-ID header), request counts and
    latency per route. Plain ASGI: Starlette's BaseHTTPMiddleware costs about a millisecond a request."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500}
        started = time.perf_counter()

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)(
                scope, receive, send
            )
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited_receive, send)
