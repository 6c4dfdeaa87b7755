"""MCP authorization discovery as the Python MCP SDK does it, against a real gateway:
the 401 at /mcp/{server}, the resource metadata it names (RFC 9728), the authorization
server that names, and its metadata (RFC 8414) with the token endpoint. Only the SDK's
own discovery functions parse and validate the documents.

    python discovery.py http://127.0.0.1:PORT helpdesk

Prints `token_endpoint: URL` and exits 0, or says which step failed and exits 1.
"""

import asyncio
import sys

import httpx2 as httpx
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_protected_resource_response,
)


async def discover(base: str, server: str) -> str:
    server_url = f"{base}/mcp/{server}"
    async with httpx.AsyncClient() as client:
        unauthorized = await client.post(server_url, json={})
        if unauthorized.status_code != 401:
            raise SystemExit(f"expected 401 at {server_url}, got {unauthorized.status_code}")
        named = extract_resource_metadata_from_www_auth(unauthorized)
        if not named:
            raise SystemExit("the 401 names no resource_metadata")
        resource = None
        for url in build_protected_resource_metadata_discovery_urls(named, server_url):
            resource = await handle_protected_resource_response(await client.get(url))
            if resource:
                break
        if resource is None or str(resource.resource).rstrip("/") != server_url:
            raise SystemExit(f"no resource metadata for {server_url}: {resource}")
        issuer = str(resource.authorization_servers[0])
        for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url):
            answer = await client.get(url)
            if answer.status_code == 200:
                metadata = answer.json()
                if metadata.get("issuer") != issuer.rstrip("/"):
                    raise SystemExit(f"issuer {metadata.get('issuer')} is not {issuer}")
                return metadata["token_endpoint"]
        raise SystemExit(f"no authorization server metadata for {issuer}")


if __name__ == "__main__":
    print(f"token_endpoint: {asyncio.run(discover(sys.argv[1], sys.argv[2]))}")
