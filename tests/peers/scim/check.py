"""Run scim2-tester's compliance checks against a running SCIM server.

Usage: python3 check.py BASE_URL BEARER_TOKEN [OU_ID]

BASE_URL is the tenant's SCIM root, e.g. http://127.0.0.1:8080/scim/v2/tenants/acme.
OU_ID is an organizational unit of that tenant (ou_...), see AD_EXTENSION below.
Every check result is printed as one JSON line on stdout; the last line is a
summary with the count per status. Exits 1 when any result is ERROR or
CRITICAL (or when the checks could not run at all), 0 otherwise.

Set SCIM_CHECK_TRACE=FILE to append every request and response to FILE
(one JSON object a line), to see what a failing check sent and got.

Install the pinned peer first: pip install -r tests/peers/scim/requirements.txt
"""

import json
import os
import sys
from collections import Counter

try:
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
    from scim2_tester import Status, check_server
except ImportError as exc:  # pragma: no cover - reported to the Rust test
    print(
        f"scim2-tester is not installed ({exc}): "
        "run `pip install -r tests/peers/scim/requirements.txt`",
        file=sys.stderr,
    )
    sys.exit(3)

FAILING = {Status.ERROR, Status.CRITICAL}

# Checks left out, each with the reason. Keep empty unless a check fails only
# because of something on the tester's side that ScaiKey cannot support.
EXCLUDE_TAGS: set[str] = set()


# The tester fills every writable string with a random UUID. ScaiKey's AD
# extension validates two of them as the directory does: sAMAccountName is at
# most 20 characters, and organizationalUnit is the id of an existing OU of
# the tenant (400 invalidValue otherwise, as RFC 7644 §3.12 allows). The
# tester has no option to skip single attributes, but it draws a value from an
# attribute's canonicalValues when there are some, so the AD schema it works
# from is given valid ones. Everything else is what the server publishes.
AD_EXTENSION = "urn:scailabs:params:scim:schemas:extension:ad:2.0:User"
SAM_ACCOUNT_NAMES = ["scimtester1", "scimtester2", "scimtester3"]


def _published(client, model):
    response = client.query(model)
    return response.resources if hasattr(response, "resources") else response


def _tester_provider(client, ou_id: str | None):
    """The server's own description, with valid values for the AD extension."""
    schemas = list(_published(client, Schema) or [])
    resource_types = list(_published(client, ResourceType) or [])
    config = _published(client, ServiceProviderConfig)
    for schema in schemas:
        if schema.id != AD_EXTENSION:
            continue
        for attribute in schema.attributes or []:
            if attribute.name == "sAMAccountName":
                attribute.canonical_values = SAM_ACCOUNT_NAMES
            elif attribute.name == "organizationalUnit" and ou_id:
                attribute.canonical_values = [ou_id]
    return ScimProvider.from_discovery(schemas, resource_types, config)


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _trace_hooks(path: str):
    out = open(path, "a", encoding="utf-8")  # closed when the process exits

    def on_response(response):
        response.read()
        request = response.request
        out.write(
            json.dumps(
                {
                    "request": f"{request.method} {request.url}",
                    "request_body": request.content.decode("utf-8", "replace"),
                    "status": response.status_code,
                    "response_body": response.text,
                }
            )
            + "\n"
        )
        out.flush()

    return {"response": [on_response]}


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token = argv[1].rstrip("/") + "/", argv[2]
    ou_id = argv[3] if len(argv) == 4 else None

    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        trust_env=False,  # the server is on loopback: never through a proxy
        event_hooks=_trace_hooks(trace) if (trace := os.environ.get("SCIM_CHECK_TRACE")) else None,
    )
    with http:
        # check_server always checks ServiceProviderConfig, ResourceTypes and
        # Schemas itself (each reported as a result); the resource checks then
        # run on the provider given here, the server's published description
        # (see AD_EXTENSION), or on what discovery found when that failed.
        try:
            provider = _tester_provider(SyncSCIMClient(http), ou_id)
        except Exception as exc:  # reported by the discovery checks below
            print(f"discovery for the tester's provider failed: {exc!r}", file=sys.stderr)
            provider = None
        client = SyncSCIMClient(http, provider=provider)
        results = check_server(
            client,
            raise_exceptions=False,
            exclude_tags=EXCLUDE_TAGS or None,
        )

    counts: Counter[str] = Counter()
    for r in results:
        counts[r.status.name] += 1
        line = {
            "status": r.status.name,
            "resource_type": r.resource_type,
            "title": r.title,
            "description": (r.description or "").strip().splitlines()[0]
            if r.description
            else None,
            "reason": r.reason,
            "tags": sorted(r.tags),
        }
        if r.status in FAILING and r.data is not None:
            line["data"] = _jsonable(r.data)
        print(json.dumps(line, default=repr))

    failed = sum(counts[s.name] for s in FAILING)
    print(json.dumps({"summary": dict(sorted(counts.items())), "total": len(results)}))
    if not results:
        print("scim2-tester ran no check", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
