"""Student code in one process, the checks in another: the channel between them (plain data only)."""
