"""Background work: the dispatcher that claims due timer and outbox rows and the in-process runner
(`dispatch`), and the one module that imports RQ and Redis (`queue`)."""
