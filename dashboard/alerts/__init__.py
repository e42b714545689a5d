"""Alert rules and their deliveries, under /alerts/."""
