"""Data the project writes and ships: the lay-to-legal lexicon and sample community documents."""
