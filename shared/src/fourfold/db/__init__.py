"""Database access: async engine and sessions, the inbox and outbox tables, migrations."""
