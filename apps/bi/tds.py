"""Tableau data sources (``.tds``) for a live connection to one table of the tenant's warehouse,
as the tenant's read-only login. The file names the login and never holds a password: Tableau
asks for it when the data source is opened."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

from retail_intel.warehouse import ReaderLogin

# Tableau's field types, by the Hyper type names of apps.bi.hyper (the same families).
TABLEAU_TYPES = {
    "text": "string",
    "big_int": "integer",
    "int": "integer",
    "double": "real",
    "timestamp": "datetime",
    "date": "date",
    "bool": "boolean",
}
# Tableau's connector names by warehouse engine.
CONNECTION_CLASSES = {"postgres": "postgres"}


def datasource_xml(
    login: ReaderLogin, schema: str, table: str, columns: Sequence[tuple[str, str]], caption: str
) -> str:
    """A ``.tds`` document: ``columns`` are (name, Hyper type name) in table order. Numbers are
    measures, everything else dimensions, as Tableau itself would guess."""
    connection_class = CONNECTION_CLASSES[login.engine]
    connection_name = f"{connection_class}.{schema}.{table}"
    root = ElementTree.Element(
        "datasource", {"formatted-name": caption, "inline": "true", "version": "18.1", "source-platform": "linux"}
    )
    federated = ElementTree.SubElement(root, "connection", {"class": "federated"})
    named = ElementTree.SubElement(
        ElementTree.SubElement(federated, "named-connections"),
        "named-connection",
        {"caption": f"{login.host}:{login.port}/{login.database}", "name": connection_name},
    )
    ElementTree.SubElement(
        named,
        "connection",
        {
            "class": connection_class,
            "server": login.host,
            "port": str(login.port),
            "dbname": login.database,
            "username": login.username,
            "authentication": "username-password",
            "one-time-sql": "",
        },
    )
    ElementTree.SubElement(
        federated,
        "relation",
        {"connection": connection_name, "name": table, "table": f"[{schema}].[{table}]", "type": "table"},
    )
    for name, hyper_type in columns:
        datatype = TABLEAU_TYPES[hyper_type]
        measure = datatype in ("integer", "real")
        ElementTree.SubElement(
            root,
            "column",
            {
                "name": f"[{name}]",
                "datatype": datatype,
                "role": "measure" if measure else "dimension",
                "type": "quantitative" if measure else ("ordinal" if datatype in ("date", "datetime") else "nominal"),
            },
        )
    ElementTree.indent(root)
    return "<?xml version='1.0' encoding='utf-8' ?>\n" + ElementTree.tostring(root, encoding="unicode") + "\n"
