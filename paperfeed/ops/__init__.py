"""Running an instance: ``check`` (the database and indexes agree), ``backup`` and restore,
``worker`` (the periodic jobs), the ``lease`` that keeps one worker per deployment, and
``malloc`` (the server's cap on glibc arenas).
"""

__all__: list[str] = []  # nothing is re-exported: import the module you need
