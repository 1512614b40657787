"""The catalog: the papers themselves.

What a paper record is (``records``) and the rules every record is held to (``validate``);
storing records (``ingest``), exporting them (``export``, ``bibtex``), counting them
(``stats``) and the bundled demo corpus (``demo``).
"""

__all__: list[str] = []  # nothing is re-exported: import the module you need
