"""Client-area views, one module per part of the area; each keeps its own URL patterns."""
