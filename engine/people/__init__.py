"""People: accounts and sign-in, the org chart (departments, managers, deputies), roles and admin
tiers, the directory the pickers search, who may start which process, org import.
Imports only `engine.data` below it."""
