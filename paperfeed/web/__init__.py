"""The web app (FastAPI + Jinja2)."""
