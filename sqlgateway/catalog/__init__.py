"""What the model knows about the data: live catalog, schema docs, drift, drafts, instructions, did-you-mean."""
