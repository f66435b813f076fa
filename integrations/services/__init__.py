"""Business logic: plain keyword-only functions. Views, admin, tasks and commands call these."""
