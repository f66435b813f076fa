"""The provider migration wizard (its state machine) and the execution of a migration."""
