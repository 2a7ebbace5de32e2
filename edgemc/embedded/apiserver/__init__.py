"""A Kubernetes- and kcp-compatible API server on aiohttp, the substrate of tests and `make up`."""
