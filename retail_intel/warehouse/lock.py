"""One run at a time per tenant."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from retail_intel.settings import Settings
from retail_intel.warehouse.base import WarehouseBusyError


@contextmanager
def tenant_lock(settings: Settings) -> Iterator[None]:
    settings.tenant_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.tenant_dir / ".run.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusyError(
                f"another run is building tenant {settings.tenant_id!r} (lock {handle.name}); wait for it to finish"
            ) from None
        yield
