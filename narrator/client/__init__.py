"""The client: long-lived sessions, the pool that runs segments through them."""
