"""Running approved SQL: pools, the read-only transaction, streaming, encoding, driver errors, quoting."""
