"""The embedded store: one SQLite file per knowledge base (kb.py), its search snapshot of numpy arrays
(snapshot.py: BM25F in lexical.py, vectors in vectors.py, the projected first pass in coarse.py), the
lexical indexer (indexer.py) and its two retrievers (retrieve.py)."""
