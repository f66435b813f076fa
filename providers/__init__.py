"""The provider plugin layer. Knows nothing about tenants or the database."""
