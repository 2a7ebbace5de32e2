"""The placement translator: EdgePlacements + SinglePlacementSlices -> mailbox contents.

Pure decisions live in `classes`, `what`, `plan`, `projection` and `customize`; the
controllers that read caches and write to the API live in `translator`; `app` makes the
component (`python -m edgemc.cmd placement-translator`).
"""
