"""serialsync plugin: magento."""
