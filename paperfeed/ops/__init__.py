"""Running an instance: ``check`` (the database and indexes agree), ``backup`` and restore,
``worker`` (the periodic jobs) and the ``lease`` that keeps one worker per deployment.
"""
