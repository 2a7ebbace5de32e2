"""The edge-mc components; each module exposes `build(mgr, opts)`."""
