"""Ranking, written once for every store: analyse the question (analyze.py) → check the filters
(filters.py) → the store's lexical and dense retrievers → fuse (fusion.py) → pseudo-relevance feedback
(feedback.py) → pin cited articles (cited.py) → hits (hits.py, snippets.py). Configured by one
immutable RankingProfile (search/profile.py); searcher.py runs the whole pipeline."""
