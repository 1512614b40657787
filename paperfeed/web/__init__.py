"""The web app (FastAPI + Jinja2)."""

__all__: list[str] = []  # nothing is re-exported: import the module you need
