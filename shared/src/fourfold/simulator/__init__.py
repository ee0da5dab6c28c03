"""A simulated vendor for demos, backfills and benchmarks (`fourfold simulate`).

vendor (partners, customers) → archetypes (each customer's journey) → billing and timeline
(seeded, pure: the events of each simulated day) → sink (NDJSON file, or ingest's HTTP API)
and live (on the clock). See docs/simulator.md.
"""
