"""Editor side."""
