"""Cost analytics: calculations only (the API renders them as JSON and CSV)."""
