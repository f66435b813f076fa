"""Renderings of service results that more than one face shows: display-ready dicts (the API's
JSON, the admin pages' tables) and CSV rows. No queries and no writes here."""
