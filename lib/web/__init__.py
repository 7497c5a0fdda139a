"""The HTTP edge: what every response carries."""
