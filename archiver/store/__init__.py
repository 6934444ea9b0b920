"""Persistence: tables, engine factory and the queries over them."""
