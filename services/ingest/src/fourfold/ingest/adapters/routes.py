"""Every adapter route, for the app to include in one line."""

from __future__ import annotations

from fastapi import APIRouter

from fourfold.ingest.adapters import admin_api, chargebee_api, stripe_api

router = APIRouter()
router.include_router(stripe_api.router)
router.include_router(chargebee_api.router)
router.include_router(admin_api.router)
