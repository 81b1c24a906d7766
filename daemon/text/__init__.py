"""Pure text algorithms."""
