"""Notifications: rendering a step's events into in-app and outbox rows (`render`), a person's
notification center and preferences (`center`), and delivering the outbox by e-mail and webhooks
(`delivery`). Imports only `engine.data` and `engine.people` below it... never the runtime."""
