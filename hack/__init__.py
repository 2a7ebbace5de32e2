"""Developer tools run from the repository root (`python -m hack.<tool>`); not shipped."""
