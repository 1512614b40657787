"""Mail: subscriptions → digests → outbox → SMTP.

- ``subscriptions``: subscribe (double opt-in), confirm, unsubscribe; tokens in ``tokens``.
- ``digests``: for each due subscription, the papers new since its watermark, rendered
  (``render``, Jinja2 templates) and put in the outbox in the transaction that moves the
  watermark.
- ``sender``: drains the outbox over SMTP: claims, retries with back-off, gives up on
  permanent errors.

Guarantees and settings: docs/mail.md.
"""

__all__: list[str] = []  # nothing is re-exported: import the module you need
