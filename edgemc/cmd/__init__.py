"""The single entry point, `python -m edgemc.cmd NAME [flags]`, and its component table."""
