"""The REST API under /api/v1 (issue 13): `core` (auth, errors, idempotency, paging, the `endpoint`
declaration), one module of endpoints per concern, `spec` (the OpenAPI document and its docs page) and `limits` (rate limiting per token)."""

from . import directory, external_tasks, instances, limits, packages, projects, spec, tasks, webhooks  # noqa: F401 - each module registers its endpoints
from .core import bp  # noqa: F401 - what create_app registers
