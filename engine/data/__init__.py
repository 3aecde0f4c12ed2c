"""Storage: the typed models (the schema), engines and sessions, the hot-path statements of a
step (`store`), and the Alembic migrations. Imports nothing of engine but `errors` and `config`."""
