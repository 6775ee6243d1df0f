"""The request's edge: its record, authentication, rate limits, body and error responses."""
