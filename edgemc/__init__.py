"""edgemc: KubeStellar's (edge-mc) 2023q1 PoC in Python, with an embedded kcp-like control plane."""

__version__ = "0.1.0"
