"""Dependencies of the routes: the app's one Service, set on ``app.state`` by ``create_app``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.api.service import Service


# async: FastAPI runs a plain-def dependency in its thread pool, a hop per request for an attribute read.
async def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
