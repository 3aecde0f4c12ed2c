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


STATEFUL_SCENARIOS = 25  # state machine runs; with up to 6 steps each (well under 30 s on two cores)


def test_linked_calls_follow_the_documents_links(api_app, tokens):
    """schemathesis' state machine walks the document's OpenAPI links (a list or a start -> read the
    instance -> get / complete / claim its task; a webhook -> ping, deliveries, delete) as li, the manager
    of a few running requests: no 5xx, every answer as the document declares, and the links really carry
    ids from one answer to the next call (a real task is reached, a real subscription is pinged)."""
    client = api_app.test_client()
    api_app.config["LIAISON_API_MAX_WAIT_MS"] = 0
    for business_key in ("SF-1", "SF-2", "SF-3"):
        assert call(client, "POST", "/processes/leave_request/instances", tokens["zhang"], json={
            "data": {"leave_type": "annual", "days": 1, "manager": "li"}, "business_key": business_key}).status_code == 201
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    # the walk stays on the operations that take part in links (the instances, tasks and webhooks), so
    # operations added elsewhere (signals, projects) do not dilute its bounded number of scenarios
    schema = schema.include(path_regex=r"^/(instances|tasks|webhooks|processes)")
    links = sum(len(response.get("links", {})) for path in schema.raw_schema["paths"].values()
                for operation in path.values() for response in operation["responses"].values())
    assert links >= 15, links
    headers = {"Authorization": f"Bearer {tokens['li']}"}
    seen: list[tuple[str, int]] = []

    class Walk(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def after_call(self, response, case):
            seen.append((case.operation.label, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Walk.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, derandomize=True,
                               deadline=None, database=None, suppress_health_check=list(HealthCheck)))
    statuses = {}
    for label, status in seen:
        statuses.setdefault(label, set()).add(status)
    print(f"{len(seen)} linked calls:", statuses)
    assert not any(status >= 500 for _label, status in seen)
    # a task id carried from a list or an instance: a real task answers other than 404
    reached = statuses.get("GET /tasks/{task_id}", set()) | statuses.get("POST /tasks/{task_id}/complete", set()) \
        | statuses.get("POST /tasks/{task_id}/claim", set())
    assert reached - {404}, statuses
    assert statuses.get("GET /instances/{instance_id}", set()) & {200}, statuses
