"""Bookable resources: meeting rooms (会议室) and their bookings, for any process or page to use.

- `rooms`: the rooms themselves (save, import from YAML, list, search by capacity and equipment) and
  who may book one (everyone, departments with their subtrees, roles);
- `bookings`: free slots of a day, booking (once, or weekly for N weeks, all or nothing), cancel, check
  in, release, and keeping bookings in step with the process instances that made them.

Sits beside `engine.external`, above `engine.people` (departments and roles decide who may book);
`engine.runtime` keeps bookings in step after each step, `engine.work.room_requests` starts the
booking process. Tables: `engine.data.room_models`.
"""
