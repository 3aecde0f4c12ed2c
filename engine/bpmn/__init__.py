"""BPMN: safe XML reading, static checks, the parser with Liaison's and Camunda's attributes, the
sandboxed expression language, the workflow adapter, state serialization and token moves.

The only package of Liaison that imports SpiffWorkflow (an import-linter contract keeps it so).
Knows nothing of the database: it turns documents into specs and runs workflows in memory.
"""
