"""The edge-mc components (mailbox controller, scheduler, placement translator, syncer,
status summarizer), each a thin layer of pure functions and writes on `edgemc.runtime`."""
