"""The action spec a GPT imports: built from the route table and the schema docs, and linted against the GPT editor's limits."""
