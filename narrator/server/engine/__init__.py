"""The embedded engine: espeak-ng speech, real word timings, MP3 through lameenc."""
