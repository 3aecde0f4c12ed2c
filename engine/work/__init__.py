"""The read side the pages need: the inbox lists, an instance with its history, a task's form and
values, who may see or act on what (`pages`), drafts and batch approval. Calls the runtime to act."""
