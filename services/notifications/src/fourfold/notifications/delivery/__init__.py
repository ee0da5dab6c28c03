"""Delivery: one room per channel behind one small protocol (`Sender`), payloads, signing,
and the worker that claims due deliveries."""
