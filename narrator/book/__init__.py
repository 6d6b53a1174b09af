"""A book on disk: its plan, segment timelines, chapter layout, assembly, manifest, cache and lock."""
