"""Pure routing core: stop index (KD-tree), network graph, journey search, route analyses."""
