"""Untrusted images: decoding, validation, thumbnails, watermarks, PNG metadata, file names."""
