"""schemathesis against /api/v1/openapi.json, the Flask app called in process (WSGI, no server), as a
super admin's token with every scope: a few generated requests per operation (fixed seed), and no
answer may be a 5xx, or have a status, content type or body the document does not declare.

The operations are walked in one test (schemathesis' lazy pytest loader needs the app at collection
time; the app is a module fixture here); every failing operation is reported, not only the first.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import call

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 10  # per operation: the whole module stays well under a minute on two cores


def test_api_conforms_to_its_document(api_app, tokens):
    client = api_app.test_client()
    api_app.config["LIAISON_API_MAX_WAIT_MS"] = 0  # generated long-poll timeouts would wait up to 30 s each
    for business_key in ("ST-1", "ST-2"):  # small ids exist, so generated ids sometimes find a real instance
        assert call(client, "POST", "/processes/leave_request/instances", tokens["zhang"], json={
            "data": {"leave_type": "annual", "days": 1, "manager": "li"}, "business_key": business_key}).status_code == 201
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    headers = {"Authorization": f"Bearer {tokens['root']}"}
    failures, seen, calls = {}, 0, []
    for found in schema.get_all_operations():
        operation = found.ok()
        seen += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            calls.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together below
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:900]
    assert seen > 20 and len(calls) >= 2 * seen, (seen, len(calls))
    print(f"{seen} operations, {len(calls)} requests:", {code: calls.count(code) for code in sorted(set(calls))})
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
