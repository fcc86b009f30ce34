"""serialsync plugin: woocommerce."""
