"""narrator: batch audiobook narration over streaming text-to-speech WebSockets."""

__version__ = "0.1.0"
