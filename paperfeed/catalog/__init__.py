"""The catalog: the papers themselves.

What a paper record is (``records``) and the rules every record is held to (``validate``);
storing records (``ingest``), exporting them (``export``, ``bibtex``), counting them
(``stats``) and the bundled demo corpus (``demo``).
"""
