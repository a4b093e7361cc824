"""Dependencies of the routes: the request's tenant's Service, from the app's ``Tenancy``
(``app.state.tenancy``, set by ``create_app``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from apps.api.service import Service
from apps.api.tenancy import Tenancy


# async: FastAPI runs a plain-def dependency in its thread pool, a hop per request for an attribute read.
async def get_tenancy(request: Request) -> Tenancy:
    return request.app.state.tenancy


TenancyDep = Annotated[Tenancy, Depends(get_tenancy)]


async def get_service(
    tenancy: TenancyDep,
    x_api_key: Annotated[str | None, Header(description="The tenant's API key (multi-tenant mode).")] = None,
) -> Service:
    if tenancy.is_warm(x_api_key):
        return tenancy.service_for_request(x_api_key)
    # A registry query, or a tenant's first request (its snapshot loads): not on the event loop,
    # where it would hold up every other tenant's requests.
    return await run_in_threadpool(tenancy.service_for_request, x_api_key)


ServiceDep = Annotated[Service, Depends(get_service)]
