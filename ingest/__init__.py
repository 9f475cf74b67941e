"""Ingestion: format readers, the shared structurer, metadata inference and the batch pipeline."""
