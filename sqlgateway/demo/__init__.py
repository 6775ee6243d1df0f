"""The demo: embedded PostgreSQL, the claims database, its roles, SQL and schema docs."""
