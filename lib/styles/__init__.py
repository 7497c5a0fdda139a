"""The styles library and its previews."""
