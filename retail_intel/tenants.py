"""The tenant registry: which clients the platform serves and where each one's data comes from.

It is platform state, not code: one SQLite file under the home (``Settings.registry_path``),
outside every tenant's folder, with every change appended to an audit table (who, when,
what). A tenant's raw folder is its own: ``tenants add`` records it (``run --raw-dir`` for
the single-tenant default); automation (the sensor, the schedule) reads only that folder,
and a run records which folder and which version of its files it published, so that
nothing rebuilds a tenant from a folder other than its own without saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from retail_intel.settings import PLATFORM_TENANT, Settings, validate_tenant_id

ACTIVE, ARCHIVED = "active", "archived"
# API keys read "ri_<key id>_<secret>": the id finds the row, the secret is checked against its hash.
KEY_PREFIX = "ri_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    raw_dir TEXT,
    warehouse TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'archived')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    published_raw_dir TEXT,
    published_fingerprint TEXT,
    published_at TEXT
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE TABLE IF NOT EXISTS tenant_runs (
    tenant_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL,
    failed_checks INTEGER NOT NULL,
    first_failure TEXT,
    champions TEXT NOT NULL,
    headlines TEXT
);
CREATE TABLE IF NOT EXISTS tenant_changes (
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


class TenantError(ValueError):
    """A registry request that cannot be done as asked (exists already, unknown, archived)."""


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    display_name: str
    raw_dir: Path | None
    warehouse: Path | None
    status: str
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    # The folder and the version of its nine files (raw_folder_fingerprint) last published.
    published_raw_dir: Path | None = None
    published_fingerprint: str | None = None
    published_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


class TenantRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, settings: Settings) -> TenantRegistry:
        return cls(settings.registry_path)

    # Registry files whose schema this process has created or brought up to date: the API asks
    # the registry on requests, where a schema script on every connection is wasted work.
    _ready: set[Path] = set()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as connection:
            connection.row_factory = sqlite3.Row
            with connection:  # one transaction, committed on success, rolled back on error
                # Checked again when the file is new (deleted and created since, as tests do).
                if self.path not in self._ready or not _has_tables(connection):
                    connection.executescript(_SCHEMA)
                    _migrate(connection)
                    TenantRegistry._ready.add(self.path)
                yield connection

    # ---- reading -------------------------------------------------------------------------
    def get(self, tenant_id: str) -> Tenant | None:
        if not self.path.exists():
            return None
        with self._connection() as connection:
            row = connection.execute("SELECT * FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
        return _tenant(row) if row else None

    def require(self, tenant_id: str) -> Tenant:
        tenant = self.get(tenant_id)
        if tenant is None:
            raise TenantError(f"no tenant {tenant_id!r} in the registry ({self.path}); add it with `tenants add`")
        return tenant

    def list(self, *, include_archived: bool = False) -> list[Tenant]:
        if not self.path.exists():
            return []
        with self._connection() as connection:
            rows = connection.execute("SELECT * FROM tenants ORDER BY tenant_id").fetchall()
        return [tenant for tenant in map(_tenant, rows) if include_archived or tenant.active]

    def changes(self, tenant_id: str) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT changed_at, changed_by, action, detail FROM tenant_changes WHERE tenant_id = ? ORDER BY rowid",
                (tenant_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    # ---- changing ------------------------------------------------------------------------
    def add(
        self,
        tenant_id: str,
        *,
        raw_dir: Path | None,
        by: str,
        display_name: str | None = None,
        warehouse: Path | None = None,
        own_raw_dir: bool = False,
    ) -> Tenant:
        """Register a tenant. ``own_raw_dir`` (what `tenants add` asks): refuse a raw folder that
        another active tenant has registered, or one inside another tenant's folder."""
        validate_tenant_id(tenant_id)
        if tenant_id == PLATFORM_TENANT:
            raise TenantError(f"tenant id {PLATFORM_TENANT!r} is reserved for the operator's own tables")
        now = _now()
        exists = (
            f"tenant {tenant_id!r} exists already; `tenants show` describes it, `tenants remove --purge` deletes it"
        )
        if warehouse is not None:
            self._refuse_anothers_warehouse(tenant_id, warehouse.resolve())
        with self._connection() as connection:
            if connection.execute("SELECT 1 FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone():
                raise TenantError(exists)
            if own_raw_dir and raw_dir is not None:
                self._refuse_anothers_raw_dir(connection, tenant_id, raw_dir.resolve())
            try:
                connection.execute(
                    "INSERT INTO tenants (tenant_id, display_name, raw_dir, warehouse, status, created_at, created_by,"
                    " updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        tenant_id,
                        display_name or tenant_id,
                        str(raw_dir.resolve()) if raw_dir else None,
                        str(warehouse.resolve()) if warehouse else None,
                        ACTIVE,
                        now,
                        by,
                        now,
                        by,
                    ),
                )
            except sqlite3.IntegrityError:  # added by another process since the check above
                raise TenantError(exists) from None
            _audit(connection, tenant_id, by, "add", f"raw folder {raw_dir or '-'}")
        return self.require(tenant_id)

    def _refuse_anothers_warehouse(self, tenant_id: str, warehouse: Path) -> None:
        """A warehouse file is one tenant's: not another's registered file, nor one in its folder."""
        tenants_dir = self._tenants_dir()
        for other in self.list(include_archived=True):
            if other.tenant_id == tenant_id:
                continue
            if other.warehouse == warehouse or (tenants_dir / other.tenant_id) in warehouse.parents:
                raise TenantError(
                    f"{warehouse} is the warehouse of tenant {other.tenant_id!r}: give {tenant_id!r} its own"
                )
        owner = self._folder_owner(warehouse)
        if owner not in (None, tenant_id):
            raise TenantError(f"{warehouse} lies in the folder of tenant {owner!r}: give {tenant_id!r} its own")

    def _refuse_anothers_raw_dir(self, connection: sqlite3.Connection, tenant_id: str, raw_dir: Path) -> None:
        """A raw folder is one active tenant's: automation would build both tenants from one
        client's files. Nor may it lie in another tenant's folder, which its purge deletes."""
        other = connection.execute(
            "SELECT tenant_id FROM tenants WHERE raw_dir = ? AND status = ? AND tenant_id != ? ORDER BY tenant_id",
            (str(raw_dir), ACTIVE, tenant_id),
        ).fetchone()
        if other is not None:
            raise TenantError(
                f"{raw_dir} is the raw folder of tenant {other['tenant_id']!r}: give {tenant_id!r} a folder of its own"
            )
        owner = self._folder_owner(raw_dir)
        if owner not in (None, tenant_id):
            raise TenantError(f"{raw_dir} lies in the folder of tenant {owner!r}: give {tenant_id!r} its own")

    def _tenants_dir(self) -> Path:
        return (self.path.parent.parent / "tenants").resolve()  # <home>/platform/tenants.sqlite -> <home>/tenants

    def _folder_owner(self, path: Path) -> str | None:
        """The tenant whose folder (<home>/tenants/<id>/) holds ``path``, registered or not."""
        tenants_dir = self._tenants_dir()
        return path.relative_to(tenants_dir).parts[0] if tenants_dir in path.parents else None

    def set_raw_dir(self, tenant_id: str, raw_dir: Path, *, by: str) -> Tenant:
        """A new raw folder for the tenant: not another active tenant's, nor one in another's folder."""
        before = self.require(tenant_id)
        with self._connection() as connection:
            self._refuse_anothers_raw_dir(connection, tenant_id, raw_dir.resolve())
            connection.execute(
                "UPDATE tenants SET raw_dir = ?, updated_at = ?, updated_by = ? WHERE tenant_id = ?",
                (str(raw_dir.resolve()), _now(), by, tenant_id),
            )
            _audit(connection, tenant_id, by, "raw folder", f"{before.raw_dir or '-'} -> {raw_dir.resolve()}")
        return self.require(tenant_id)

    def set_status(self, tenant_id: str, status: str, *, by: str) -> Tenant:
        before = self.require(tenant_id)
        if status not in (ACTIVE, ARCHIVED):
            raise TenantError(f"tenant status must be {ACTIVE} or {ARCHIVED}, got {status!r}")
        with self._connection() as connection:
            connection.execute(
                "UPDATE tenants SET status = ?, updated_at = ?, updated_by = ? WHERE tenant_id = ?",
                (status, _now(), by, tenant_id),
            )
            _audit(connection, tenant_id, by, "status", f"{before.status} -> {status}")
        return self.require(tenant_id)

    def delete(self, tenant_id: str, *, by: str) -> None:
        self.require(tenant_id)
        with self._connection() as connection:
            live = connection.execute(
                "SELECT count(*) FROM api_keys WHERE tenant_id = ? AND revoked_at IS NULL", (tenant_id,)
            ).fetchone()[0]
            if live:
                # Purging the tenant that held the keys must not open the service to the others
                # (has_live_keys): only revoking keys, an act on keys, does that.
                _audit(connection, tenant_id, by, KEYS_PURGED, f"{live} unrevoked key(s) deleted with the tenant")
            connection.execute("DELETE FROM tenants WHERE tenant_id = ?", (tenant_id,))
            connection.execute("DELETE FROM api_keys WHERE tenant_id = ?", (tenant_id,))
            connection.execute("DELETE FROM tenant_runs WHERE tenant_id = ?", (tenant_id,))
            # The audit rows stay: who purged whom, and when, outlives the tenant.
            _audit(connection, tenant_id, by, "purge", "registry entry and data deleted")

    def record_publish(self, tenant_id: str, raw_dir: Path, fingerprint: str | None) -> None:
        """A run published this folder's files (the version ``fingerprint`` names). Nothing to
        record for a tenant that is not registered (a test's or a benchmark's home)."""
        if not self.path.exists():
            return
        with self._connection() as connection:
            connection.execute(
                "UPDATE tenants SET published_raw_dir = ?, published_fingerprint = ?, published_at = ?"
                " WHERE tenant_id = ?",
                (str(raw_dir.resolve()), fingerprint, _now(), tenant_id),
            )

    # ---- runs -----------------------------------------------------------------------------
    def record_run(
        self,
        tenant_id: str,
        run_id: str,
        *,
        status: str,
        failed_checks: int,
        first_failure: str | None,
        champions: dict[str, str],
        headlines: dict[str, dict[str, object]] | None = None,
    ) -> None:
        """A finished run of a registered tenant: its outcome (success, failed or canceled), the
        champion versions it served its tables from, and each model's headline figure beside
        its best baseline's on the run's evaluation."""
        if self.get(tenant_id) is None:
            return
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO tenant_runs (tenant_id, run_id, finished_at, status, failed_checks, first_failure,"
                " champions, headlines) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tenant_id,
                    run_id,
                    _now(),
                    status,
                    failed_checks,
                    first_failure,
                    json.dumps(champions, sort_keys=True),
                    json.dumps(headlines or {}, sort_keys=True),
                ),
            )

    def last_runs(self) -> dict[str, dict[str, object]]:
        """Each tenant's latest run: finished_at, status, failed_checks, first_failure, champions."""
        if not self.path.exists():
            return {}
        with self._connection() as connection:
            # The last recorded (finished_at has one-second ties), found in one pass: a correlated
            # subquery per row grew with the square of the runs recorded.
            rows = connection.execute(
                "SELECT * FROM tenant_runs WHERE rowid IN (SELECT max(rowid) FROM tenant_runs GROUP BY tenant_id)"
            ).fetchall()
        return {
            row["tenant_id"]: {
                **dict(row),
                "champions": json.loads(row["champions"]),
                "headlines": json.loads(row["headlines"] or "{}"),
            }
            for row in rows
        }

    def last_success(self, tenant_id: str) -> str | None:
        """When the tenant's last successful run finished (its score tables' age), or None."""
        if not self.path.exists():
            return None
        with self._connection() as connection:
            row = connection.execute(
                "SELECT max(finished_at) FROM tenant_runs WHERE tenant_id = ? AND status = 'success'", (tenant_id,)
            ).fetchone()
        return row[0] if row else None

    # ---- API keys -------------------------------------------------------------------------
    def create_key(self, tenant_id: str, *, by: str, label: str = "") -> str:
        """A new key for the tenant's HTTP requests, returned once: only its SHA-256 is kept.
        (A fast hash is enough for 192 random bits; a slow one guards guessable passwords.)"""
        if not self.require(tenant_id).active:
            raise TenantError(f"tenant {tenant_id!r} is archived: it gets no new keys")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO api_keys (key_id, tenant_id, secret_sha256, label, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, tenant_id, _sha256(secret), label, _now(), by),
            )
            _audit(connection, tenant_id, by, "key created", key_id + (f" ({label})" if label else ""))
        return f"{KEY_PREFIX}{key_id}_{secret}"

    def keys(self, tenant_id: str) -> list[dict[str, str | None]]:
        """The tenant's keys without their secrets: id, label, created and revoked (when and by whom)."""
        self.require(tenant_id)
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT key_id, label, created_at, created_by, revoked_at, revoked_by FROM api_keys"
                " WHERE tenant_id = ? ORDER BY created_at, key_id",
                (tenant_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    def revoke_key(self, tenant_id: str, key_id: str, *, by: str) -> None:
        with self._connection() as connection:
            updated = connection.execute(
                "UPDATE api_keys SET revoked_at = ?, revoked_by = ?"
                " WHERE tenant_id = ? AND key_id = ? AND revoked_at IS NULL",
                (_now(), by, tenant_id, key_id),
            ).rowcount
            if not updated:
                raise TenantError(f"tenant {tenant_id!r} has no active key {key_id!r}")
            _audit(connection, tenant_id, by, "key revoked", key_id)

    def has_live_keys(self) -> bool:
        """Whether any tenant, archived ones included, has an unrevoked API key, or a tenant was
        purged with unrevoked keys. An archived tenant's keys are refused but not revoked (they
        work again if it is made active), and a purge is not a revocation, so archiving or
        purging the tenant that held the keys must not turn keys off for the one left; revoking
        the keys does (or `serve --single-tenant`)."""
        if not self.path.exists():
            return False
        with self._connection() as connection:
            if connection.execute("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").fetchone():
                return True
            purged = "SELECT 1 FROM tenant_changes WHERE action = ? LIMIT 1"
            return connection.execute(purged, (KEYS_PURGED,)).fetchone() is not None

    def tenant_for_key(self, key: str) -> str | None:
        """The active tenant whose unrevoked key this is; None for anything else, malformed included."""
        if not key.startswith(KEY_PREFIX) or not self.path.exists():
            return None
        key_id, _, secret = key[len(KEY_PREFIX) :].partition("_")
        with self._connection() as connection:
            row = connection.execute(
                "SELECT k.tenant_id, k.secret_sha256 FROM api_keys k JOIN tenants t USING (tenant_id)"
                " WHERE k.key_id = ? AND k.revoked_at IS NULL AND t.status = ?",
                (key_id, ACTIVE),
            ).fetchone()
        if row is None or not hmac.compare_digest(row["secret_sha256"], _sha256(secret)):
            return None
        return row["tenant_id"]


KEYS_PURGED = "keys purged"


def tenant_label(tenant_id: str, key: bytes) -> str:
    """How the service's /metrics, which needs no key, names a tenant: stable, and not the id,
    which anyone could otherwise read there (`retail-intel tenants show` prints it). Keyed with
    the installation's secret (``label_key``): a plain hash of a guessable id such as a client's
    company name could be reversed by hashing candidate names."""
    return hmac.new(key, tenant_id.encode(), hashlib.sha256).hexdigest()[:12]


def label_key(registry_path: Path) -> bytes:
    """The installation's secret for ``tenant_label``, beside the tenant registry: made once,
    readable by its owner only."""
    path = registry_path.parent / "metrics_label.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
                file.write(secrets.token_hex(32))
        except FileExistsError:  # another process made it first: use theirs
            pass
    return bytes.fromhex(path.read_text().strip())


def _has_tables(connection: sqlite3.Connection) -> bool:
    return connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 'tenant_runs'").fetchone()[0] == 1


def _migrate(connection: sqlite3.Connection) -> None:
    """Columns added since a registry file was created (CREATE TABLE IF NOT EXISTS keeps old tables)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(tenant_runs)")}
    if "headlines" not in columns:
        connection.execute("ALTER TABLE tenant_runs ADD COLUMN headlines TEXT")


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _audit(connection: sqlite3.Connection, tenant_id: str, by: str, action: str, detail: str) -> None:
    connection.execute(
        "INSERT INTO tenant_changes (changed_at, changed_by, tenant_id, action, detail) VALUES (?, ?, ?, ?, ?)",
        (_now(), by, tenant_id, action, detail),
    )


def _tenant(row: sqlite3.Row) -> Tenant:
    values = dict(row)
    for key in ("raw_dir", "warehouse", "published_raw_dir"):
        values[key] = _path(values[key])
    return Tenant(**values)


def resolve(settings: Settings) -> Settings:
    """The settings with the tenant's registered raw folder and warehouse file where none was
    given (by an option or the environment): what every command and the code location use."""
    tenant = TenantRegistry.of(settings).get(settings.tenant_id)
    if tenant is None:
        return settings
    changes: dict[str, object] = {}
    if settings.raw_dir_override is None and tenant.raw_dir is not None:
        changes["raw_dir_override"] = tenant.raw_dir
    if settings.warehouse_override is None and tenant.warehouse is not None:
        changes["warehouse_override"] = tenant.warehouse
    return settings.with_(**changes) if changes else settings
