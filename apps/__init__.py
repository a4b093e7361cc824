"""The platform's applications, the top layer: the command line (``cli``), the HTTP service
(``api``) and batch activation (``activation``), over the Dagster code location
(``orchestration``), the models (``ml``) and the core (``retail_intel``)."""
