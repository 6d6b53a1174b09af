"""MP3 frames, PCM, encoding, room tone, ID3 tags and M4B."""
