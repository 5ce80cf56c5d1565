"""Whether Maillage can do its work: what `/readyz` checks, and the traces the worker leaves for it."""
