"""serialsync plugin: shopify."""
