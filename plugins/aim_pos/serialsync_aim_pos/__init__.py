"""serialsync plugin: aim_pos."""
