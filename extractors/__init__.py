"""Pure functions from bytes and strings to typed results: feed entries, article text and metadata, entity tags.

Nothing here imports Prefect or SQLAlchemy, and nothing here does I/O beyond reading files it is pointed at.
"""
