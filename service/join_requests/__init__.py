"""Requests to join the network: an organization not yet in Maillage asks from a public page, the
regional admin accepts or declines; the request is driven by a protocol of the engine."""
