"""Legal tools built on the knowledge base: a citation checker, a task legal-basis audit for residents'
committees, and a convention check for 居民公约 / 管理规约 drafts. They are aids for people, not legal advice.

Every tool works only through the backend-independent contract (the KnowledgeBase protocol and the
Searcher), so they run the same over the embedded store and Elasticsearch.
"""
