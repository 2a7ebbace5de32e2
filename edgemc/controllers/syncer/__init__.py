"""The edge syncer: keeps one edge cluster in step with its mailbox workspace (spec section 7).

Modules, each readable alone:

* `config`: merges every SyncerConfig (and EdgeSyncConfig) of the mailbox and resolves
  it against both sides' discovery into lanes (one per resource and direction) - pure.
* `objects`: what a copy looks like and what to do with one object - pure.
* `engine`: informers on both sides, one work queue keyed by (lane, namespace, name), the
  writes, status return, and the periodic full reconciliation.
* `heartbeat`: `status.lastSyncerHeartbeatTime` on every SyncerConfig.
* `app`: the `syncer` component (flags, clients).
"""
