"""API models of every object edgemc reads or writes (pydantic v2) and label-selector semantics."""
