"""Task collaboration (任务协作): projects with members (`projects`), their tasks with checklist, subtasks,
files, linked instances and discussion (`tasks`, `discussion`), a task's life as an instance of the
shipped package `project_task` (`life`: status changes go through the engine as messages, the reminder
before the due date and the escalation after it are the package's boundary timers), a process waiting
until the tasks it created are done (`process_wait`), and the board, list, calendar, summary and export
views (`views`, `export`).

Who may see or change what is decided in ONE module, `access`. Above `engine.runtime` (it starts
instances and sends messages through it), beside `engine.training` and `engine.packages`.
"""
