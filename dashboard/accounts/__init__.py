"""The account health page (accounts are edited in the admin)."""
