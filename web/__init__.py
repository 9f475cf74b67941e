"""The Flask site and JSON API."""
