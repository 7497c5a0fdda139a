"""The gallery: who sees which image, search, detail, edits, selections, downloads."""
