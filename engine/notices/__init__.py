"""Policy notices with read receipts, and surveys.

- `audience`: who a notice reaches (people, department subtrees, roles, everyone), as one SQL filter;
- `sending`: `create_notice` (a row and its audience, nothing fanned out in the request) and the
  background fan-out in batches (recipient rows, in-app items, e-mail and robot rows in the outbox);
- `receipts`: opening (the read), acknowledging, the sender's receipts aggregated per department in SQL,
  and the throttled "remind the unread";
- `surveys`: definitions, answers (anonymous or named, once per person), results and the XLSX export;
- `process_link`: a package's instance that ends at its `notice.end_event` sends the notice it composed.

Imports: `engine.notify` (outbox and notification center tables), `engine.people` (the org chart's
subtree rule), `engine.data`; `engine.runtime` calls `process_link` after a step, `engine.jobs` runs the
fan-out. No Flask.
"""
