"""The Streamlit script that ``retail-intel dashboard`` runs: the pages of one tenant, or, with
``--operator``, of any tenant chosen in the sidebar plus the page across all tenants.

Settings come from the environment the command passes (RETAIL_INTEL_HOME, _TENANT, _TARGET,
_WAREHOUSE and the PG* variables), as every other entry point reads them.
"""

from __future__ import annotations

import sys

import streamlit as st

from apps.dashboard import pages
from retail_intel.settings import Settings
from retail_intel.tenants import TenantRegistry, resolve

PAGES = (
    ("Revenue", "revenue", pages.revenue),
    ("Segments", "segments", pages.segments),
    ("Recommendations", "recommendations", pages.recommendations),
    ("Models", "models", pages.models),
)


def main() -> None:
    st.set_page_config(page_title="Retail intelligence", layout="wide")
    settings = Settings.from_env()
    operator = "--operator" in sys.argv[1:]
    if operator:
        tenants = [tenant.tenant_id for tenant in TenantRegistry.of(settings).list()] or [settings.tenant_id]
        chosen = st.sidebar.selectbox(
            "Tenant", tenants, index=tenants.index(settings.tenant_id) if settings.tenant_id in tenants else 0
        )
        if chosen != settings.tenant_id:
            # The chosen tenant's own registered warehouse, not the one the command was started on.
            settings = resolve(settings.with_(tenant_id=chosen, raw_dir_override=None, warehouse_override=None))
    st.sidebar.caption(f"Tenant {settings.tenant_id} · {settings.target}")
    entries = [
        st.Page(lambda render=render: render(settings), title=title, url_path=path, default=index == 0)
        for index, (title, path, render) in enumerate(PAGES)
    ]
    if operator:
        entries.append(st.Page(lambda: pages.operator(settings), title="All tenants", url_path="tenants"))
    st.navigation(entries).run()


main()
