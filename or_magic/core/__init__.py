"""core: what every layer needs and nothing above it provides — errors, settings, the parameter
table, coercion of loose JSON, the shell probe, money formatting, and the key's secrets.
Imports nothing else of or_magic."""

__version__ = "0.1.0"
