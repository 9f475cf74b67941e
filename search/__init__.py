"""Knowledge-base backends and search."""
