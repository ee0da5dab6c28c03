"""Fourfold incentives: lifecycle incentive programs and an append-only ledger."""
