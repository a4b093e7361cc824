"""The dashboard analysts, marketing and the operator open: ``retail-intel dashboard``.

Streamlit, because the figures are already Python (the views in ``data`` read the warehouse
through its interface, on DuckDB or PostgreSQL, as the service and the exports do): no second
query layer, no server of its own to install, and a page is a function a test can drive in a
browser. Evidence and Superset would need their own SQL over each engine and a Node or Java
runtime beside Python; Panel would do as well, with a smaller community.
"""
