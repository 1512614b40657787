"""Live sources: services polled over HTTP, behind one polite client (``http``).

One connector module per kind yields pages of records with a resume cursor (``connector``):
``oai`` (arXiv OAI-PMH), ``arxiv_api`` (lookups by id, search queries), ``rss`` (arXiv daily
RSS), ``hf_daily`` (Hugging Face daily papers). ``registry`` holds the configured sources and
``runner`` runs them: one transaction per page, runs recorded, indexes synced.
"""

__all__: list[str] = []  # nothing is re-exported: import the module you need
