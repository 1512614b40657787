"""Live sources: services polled over HTTP (the arXiv API first), behind one polite client."""
