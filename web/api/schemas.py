"""The API's request and response shapes as marshmallow schemas: parsed and checked by `core.endpoint`,
turned into the OpenAPI document by apispec (`spec.py`)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from engine.people.api_tokens import SCOPES  # noqa: F401 - documented in the security scheme
from engine.runtime import api_webhooks


class Loose(Schema):
    """Responses carry more than they document; unknown keys pass through."""

    class Meta:
        unknown = "include"


class Error(Schema):
    class Body(Schema):
        code = fields.String(required=True, metadata={"description": "machine-readable reason"})
        message = fields.String(required=True, metadata={"description": "in the Accept-Language's language"})
        details = fields.Dict(required=True, metadata={"description": "e.g. `fields`: messages per form field"})

    error = fields.Nested(Body, required=True)


class ListQuery(Schema):
    class Meta:
        unknown = EXCLUDE  # other query parameters (a cache buster, `lang`) are ignored

    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = fields.String(load_default=None, metadata={"description": "`next_cursor` of the previous page"})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A page of `item`s with the opaque cursor of the next page (null at the end)."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item), required=True),
                             "next_cursor": fields.String(allow_none=True, required=True)}, name=name)


# -- packages --------------------------------------------------------------------------------------

class Package(Loose):
    key = fields.String(required=True)
    name = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)
    category = fields.String(allow_none=True)
    version = fields.Integer(required=True, metadata={"description": "the latest version number"})


class PackageDetail(Package):
    versions = fields.List(fields.Dict(), metadata={"description": "{number, deployed_at, deployed_by, notes}"})


class Deployed(Loose):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    created = fields.Boolean(metadata={"description": "false: identical to the latest version, nothing new"})
    warnings = fields.List(fields.String(), required=True)


# -- instances -------------------------------------------------------------------------------------

class StartBody(Schema):
    data = fields.Dict(load_default=dict, metadata={"description": "the start form's values"})
    business_key = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class Step(Loose):
    id = fields.Integer(required=True, metadata={"description": "the instance id"})
    status = fields.String(required=True)
    tasks = fields.List(fields.Dict(), required=True, metadata={"description": "the open tasks after the step"})


# OpenAPI links (`endpoint(links=...)`): where an answer leads; the docs show them and the schemathesis
# state machine follows them (start -> read the instance -> complete its task ...).
FIRST_TASK = "$response.body#/tasks/0/id"
STEP_LINKS = {"GetInstance": ("get_instance", {"instance_id": "$response.body#/id"}),
              "GetFirstOpenTask": ("get_task", {"task_id": FIRST_TASK}),
              "CompleteFirstOpenTask": ("complete_task", {"task_id": FIRST_TASK})}
INSTANCE_LINKS = {"GetFirstTask": ("get_task", {"task_id": FIRST_TASK}),
                  "CompleteFirstTask": ("complete_task", {"task_id": FIRST_TASK}),
                  "Urge": ("urge", {"instance_id": "$response.body#/id"})}
INSTANCE_LIST_LINKS = {"GetFirstInstance": ("get_instance", {"instance_id": "$response.body#/items/0/id"})}
TASK_LIST_LINKS = {"GetFirstTask": ("get_task", {"task_id": "$response.body#/items/0/id"}),
                   "CompleteFirstTask": ("complete_task", {"task_id": "$response.body#/items/0/id"}),
                   "ClaimFirstTask": ("claim", {"task_id": "$response.body#/items/0/id"})}
TASK_LINKS = {"GetInstance": ("get_instance", {"instance_id": "$response.body#/instance_id"}),
              "Complete": ("complete_task", {"task_id": "$response.body#/id"}),
              "Transfer": ("transfer", {"task_id": "$response.body#/id"}),
              "Return": ("return_task", {"task_id": "$response.body#/id"})}
WEBHOOK_LINKS = {"Ping": ("ping_webhook", {"subscription_id": "$response.body#/id"}),
                 "Deliveries": ("webhook_deliveries", {"subscription_id": "$response.body#/id"}),
                 "Delete": ("delete_webhook", {"subscription_id": "$response.body#/id"})}


class InstanceSummary(Loose):
    id = fields.Integer(required=True)
    process = fields.String(required=True)
    status = fields.String(required=True)
    outcome = fields.String()
    business_key = fields.String(allow_none=True)
    initiator = fields.String(allow_none=True)
    created_at = fields.String()
    ended_at = fields.String(allow_none=True)


class Instance(InstanceSummary):
    version = fields.Integer()
    data = fields.Dict()
    tasks = fields.List(fields.Dict())
    history = fields.List(fields.Dict())
    external_tasks = fields.List(fields.Dict(), metadata={
        "description": "what waits on outside workers: {id, element_id, topic, status, retries, error_message}"})


class InstanceQuery(ListQuery):
    process = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["running", "completed", "cancelled", "failed"]))
    business_key = fields.String(load_default=None)
    started_by = fields.String(load_default=None, metadata={"description": "the initiator's username"})


class CommentBody(Schema):
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class TerminateBody(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CcBody(CommentBody):
    to = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=50))


class JumpBody(Schema):
    task_id = fields.String(required=True, metadata={"description": "the open task the request waits at"})
    to = fields.String(required=True, metadata={"description": "the id of the node to move it to"})
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# -- tasks -----------------------------------------------------------------------------------------

class TaskQuery(ListQuery):
    scope = fields.String(load_default="mine", validate=validate.OneOf(["mine", "pool", "done", "cc"]))


class Task(Loose):
    id = fields.String(required=True)
    instance_id = fields.Integer(required=True)
    process_key = fields.String()
    element_id = fields.String()
    name = fields.String(allow_none=True)
    status = fields.String()
    assignee = fields.String(allow_none=True)
    may_complete = fields.Boolean()
    form = fields.Dict(allow_none=True, metadata={"description": "the form schema (fields, access per node)"})


class CompleteBody(Schema):
    action = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "approve / reject: sets the form's `approved` decision"})
    data = fields.Dict(load_default=dict)
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ToBody(CommentBody):
    to = fields.String(required=True, metadata={"description": "a username"})


class ReturnBody(Schema):
    to = fields.String(load_default="previous",
                       metadata={"description": "previous, initiator, or the id of a node already passed"})
    comment = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class SignerBody(CommentBody):
    signer = fields.String(required=True)
    place = fields.String(load_default="alongside", validate=validate.OneOf(["before", "after", "alongside"]))


class Done(Loose):
    ok = fields.Boolean(required=True)


# -- messages, people ------------------------------------------------------------------------------

class MessageBody(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    business_key = fields.String(load_default=None, allow_none=True)
    correlation = fields.String(load_default=None, allow_none=True,
                                metadata={"description": "the correlation key, when not the business key"})
    data = fields.Dict(load_default=dict)


class MessageResult(Loose):
    status = fields.String(required=True, metadata={"description": "delivered, started or kept"})
    instance_id = fields.Integer(allow_none=True)


class SignalBody(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    data = fields.Dict(load_default=dict, metadata={"description": "merged into each receiver's data"})


class SignalResult(Loose):
    event_id = fields.Integer(required=True)
    reached = fields.Integer(required=True, metadata={"description": "waiting instances moved on"})
    started = fields.Integer(required=True, metadata={"description": "new instances started at a signal start event"})
    skipped = fields.Integer(required=True, metadata={"description": "receivers that stopped waiting meanwhile"})
    failed = fields.Integer(required=True, metadata={"description": "receivers whose step failed for good"})
    pending = fields.Integer(required=True, metadata={"description": "receivers whose step failed; retried"})


class PeopleQuery(ListQuery):
    q = fields.String(load_default="")


class PersonHit(Loose):
    username = fields.String(required=True)
    name = fields.String(required=True)
    department = fields.String(allow_none=True)


class DepartmentHit(Loose):
    code = fields.String(required=True)
    name = fields.String(required=True)
    parent = fields.String(allow_none=True)


# -- webhooks --------------------------------------------------------------------------------------

WEBHOOK_EVENTS = api_webhooks.EVENTS  # the engine's list: one owner


class WebhookBody(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=1000))
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), required=True,
                         validate=validate.Length(min=1, max=len(WEBHOOK_EVENTS)))
    process = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                            metadata={"description": "only this process's instances"})
    all_instances = fields.Boolean(load_default=False,
                                   metadata={"description": "every instance (a super admin's admin-scoped token)"})


class Webhook(Loose):
    id = fields.Integer(required=True)
    owner = fields.String(required=True, metadata={"description": "the username of the subscription's person"})
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    process = fields.String(allow_none=True, required=True)
    all_instances = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class WebhookCreated(Webhook):
    secret = fields.String(required=True, metadata={"description": "the HMAC-SHA256 key; shown only once"})


class WebhookList(Loose):
    items = fields.List(fields.Nested(Webhook), required=True)


class WebhookPinged(Loose):
    delivery = fields.Integer(required=True, metadata={"description": "the outbox row (`X-Liaison-Delivery`)"})
    status = fields.String(required=True, metadata={"description": "pending, sending, sent or failed"})


class WebhookDelivery(Loose):
    id = fields.Integer(required=True, metadata={"description": "the outbox row (`X-Liaison-Delivery`)"})
    event = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "pending, sending, sent or failed"})
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True, required=True)
    instance_id = fields.Integer(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True, required=True)
    next_attempt_at = fields.DateTime(allow_none=True, required=True,
                                      metadata={"description": "the next try of a pending delivery"})
# -- external tasks --------------------------------------------------------------------------------

class TopicBody(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    lock_seconds = fields.Integer(required=True, validate=validate.Range(1, 7 * 24 * 3600),
                                  metadata={"description": "how long the tasks of this topic stay locked"})


class FetchBody(Schema):
    worker = fields.String(required=True, validate=validate.Length(1, 200))
    topics = fields.List(fields.Nested(TopicBody), required=True, validate=validate.Length(1, 50))
    max = fields.Integer(load_default=1, validate=validate.Range(1, 100))
    async_response_timeout = fields.Integer(load_default=0, validate=validate.Range(0, 30_000),
                                            metadata={"description": "ms to wait for a task (long polling)"})


class ExternalCompleteBody(Schema):
    worker = fields.String(required=True, validate=validate.Length(1, 200))
    variables = fields.Dict(load_default=dict, metadata={"description": "merged into the process data"})


class FailureBody(Schema):
    worker = fields.String(required=True, validate=validate.Length(1, 200))
    error_message = fields.String(required=True, validate=validate.Length(1, 4000))
    error_details = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    retries = fields.Integer(load_default=0, validate=validate.Range(0, 1000),
                             metadata={"description": "retries left; 0 makes an incident"})
    retry_timeout = fields.Integer(load_default=0, validate=validate.Range(0, 7 * 24 * 3600),
                                   metadata={"description": "seconds before the task is fetchable again"})


class ExtendLockBody(Schema):
    worker = fields.String(required=True, validate=validate.Length(1, 200))
    lock_seconds = fields.Integer(required=True, validate=validate.Range(1, 7 * 24 * 3600),
                                  metadata={"description": "seconds from now"})


class RetryBody(Schema):
    retries = fields.Integer(load_default=1, validate=validate.Range(1, 1000))


class ExternalTaskQuery(ListQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["open", "locked", "completed", "incident", "cancelled"]))
    topic = fields.String(load_default=None)
    instance = fields.Integer(load_default=None)


class ExternalTask(Loose):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    element_id = fields.String(required=True)
    topic = fields.String(required=True)
    status = fields.String(required=True)
    worker = fields.String(allow_none=True)
    lock_expires_at = fields.String(allow_none=True)
    retries = fields.Integer(allow_none=True)
    error_message = fields.String(allow_none=True)
    error_details = fields.String(allow_none=True)
    variables = fields.Dict(required=True)


class ExternalCompleted(Loose):
    id = fields.Integer(required=True)
    instance_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "the instance's status after the step"})
    open_tasks = fields.List(fields.Dict(), required=True)
