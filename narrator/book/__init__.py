"""A narrated book on disk: segment timelines, chapter layout, assembly, the segment cache, the folder lock."""
