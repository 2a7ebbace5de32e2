"""The embedded control plane: a kcp-compatible API server and simulated edge clusters."""
