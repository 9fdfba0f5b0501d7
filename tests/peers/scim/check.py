"""Run scim2-tester's compliance checks against a running SCIM server.

Usage: python3 check.py BASE_URL BEARER_TOKEN

BASE_URL is the tenant's SCIM root, e.g. http://127.0.0.1:8080/scim/v2/tenants/acme.
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


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _trace_hooks(path: str):
    out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed at exit

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
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token = argv[1].rstrip("/") + "/", argv[2]

    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
        trust_env=False,  # the server is on loopback: never through a proxy
        event_hooks=_trace_hooks(trace) if (trace := os.environ.get("SCIM_CHECK_TRACE")) else None,
    )
    # No provider given: check_server queries ServiceProviderConfig,
    # ResourceTypes and Schemas itself (reporting each as a check) and
    # registers what they publish on the client, as SyncSCIMClient.discover does.
    client = SyncSCIMClient(http)
    with http:
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
