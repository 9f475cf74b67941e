"""The Elasticsearch store: connecting (client.py), what is stored (mapping.py), reads (kb.py), versioned
builds behind an alias (build.py), loading an embedded KB (from_embedded.py) and its two retrievers
(retrieve.py)."""
