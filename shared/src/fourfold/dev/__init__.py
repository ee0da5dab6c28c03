"""`make dev`: the whole system on embedded parts, with a simulated vendor on a fast clock."""
