"""Accepting, delivering and protecting deliveries: intake, dispatch, circuit breakers."""
