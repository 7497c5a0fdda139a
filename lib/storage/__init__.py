"""Where image bytes live: one interface, local disk and S3."""
