"""Serial meters on pseudo-terminals, speaking through the drivers' own codecs."""
