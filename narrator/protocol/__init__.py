"""Per-service protocol codecs: pure, no I/O."""
