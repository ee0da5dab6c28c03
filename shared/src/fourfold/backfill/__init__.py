"""`fourfold backfill`: a vendor's history, one CloudEvent per NDJSON line, through ingest.

It goes through the public API (POST /v1/events, batches), so history takes the road live
events take: the same validation, the same dedupe (running it twice publishes nothing
twice), the same acks. docs/backfill.md has the file shape and a converter example.
"""
