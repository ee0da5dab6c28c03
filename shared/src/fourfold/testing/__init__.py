"""Test support: pytest fixtures that start the real broker and PostgreSQL once per session."""
