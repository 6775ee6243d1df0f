"""The safe serving role: what it is, how to check it, how to provision it."""
