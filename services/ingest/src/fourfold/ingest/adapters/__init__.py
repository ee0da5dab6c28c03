"""Adapters for a billing system's own webhooks (Stripe, Chargebee) beside POST /v1/events.

Each adapter verifies its system's credential, maps the system's events to Fourfold events
(pure functions of the payload: `stripe.py`, `chargebee.py`), and hands them to the one
publishing road (`webhooks.py` → `fourfold.ingest.intake`).
"""
