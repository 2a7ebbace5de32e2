"""Command-line tools shipped as kubectl plugins (`kubectl ws`, `kubectl workspace`).

Layering: pure modules (`clusterpath`, `kubeconfig` rewrite rules, `messages`, `tree`,
`flags`) hold the decisions and carry the dense unit tests; `kcpclient` does the HTTP and
`kubectl_ws` wires flags, kubeconfig I/O and API calls into commands.
"""
