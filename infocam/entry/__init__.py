"""Console entry points and their helpers (the top layer: may import anything below)."""
