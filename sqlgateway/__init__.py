"""sqlgateway: a read-only SQL gateway for GPT actions and LLM agents over PostgreSQL."""

__version__ = "0.1.0"

__all__ = ["__version__"]
