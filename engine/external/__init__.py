"""External access (issue 17): what suppliers, customers and visitors are, what they enter with, and
what each may see. The one owner of "may this outsider touch this instance".

- `identity`: `Principal` (a contact signed in, or a grant entered), the identity strings outsiders
  act under in the engine (`ext:contact:ID`, `ext:grant:ID`) and the groups external tasks are
  offered to (`ext:supplier`, `ext:customer`, `ext:visitor`);
- `grants`: scoped links, invitation codes and visitor passes (issue, redeem, revoke);
- `errors`: `ExternalAccessError` (reason unknown, expired, not_yet, revoked, throttled);
- `parties`, `party_import`: suppliers and customers, their contacts, revoking, import from CSV/XLSX;
- `sign_in`: contacts' e-mailed one-time codes; `throttle`: code entry slowed per client and per code/address;
- `sessions`: portal sessions; `audit`: the access log; `display`: outsiders' names on employees' pages;
- the rest (scope checks, visitor passes and the blacklist) in the modules named for them.

Sits between `engine.notify` and `engine.people` (it may use people's throttle and file readers); the runtime issues links through it and
`engine.work.portal` builds the portal's pages on it. Tables: `engine.data.external_models`.
"""
