"""The community: accounts, and what people do with papers.

``accounts`` (sign-up, log-in, sessions), ``activity`` (votes, comments, the library,
moderation), ``rank`` (feeds and trending), ``recommend`` ("for you"), ``submit`` (a paper by
arXiv id or URL) and ``throttle`` (rate limits). Nothing is re-exported here: import the
module you need.
"""

__all__: list[str] = []
