"""serialsync plugin: bigcommerce."""
