"""Alembic migrations: the only thing that creates or changes presswatch's schema."""
