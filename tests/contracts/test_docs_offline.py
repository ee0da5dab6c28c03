"""/docs and /redoc of every service load only what the service serves itself (no CDN)."""

from __future__ import annotations

import re

import httpx
import pytest

from fourfold.dev.openapi import APPS, build_app

pytestmark = pytest.mark.parametrize("service", sorted(APPS))
ASSET = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_reference_only_local_assets_and_they_are_served(
    service: str, page: str
) -> None:
    transport = httpx.ASGITransport(app=build_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        html = (await client.get(page)).text
        references = ASSET.findall(html)
        assert any(ref.endswith(".js") for ref in references), html
        for reference in references:
            assert reference.startswith("/"), f"{page} loads {reference} from elsewhere"
            asset = await client.get(reference)
            assert asset.status_code == 200, reference
            assert asset.content, reference
        assert "://" not in html.replace("http://svc", ""), "no absolute URL in the page"
