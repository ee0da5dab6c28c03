"""`make dev`: the whole system on embedded parts, with a demo feed."""
