"""Captions from timed words: cues, and the SRT, WebVTT, ASS and JSON writers. Pure."""
