"""An index on `fetch_events.url`: a pass counts a link's earlier failed attempts before re-reading its feed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the index."""
    op.create_index("ix_fetch_events_url", "fetch_events", ["url"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_fetch_events_url", table_name="fetch_events")
