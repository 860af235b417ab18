"""Tests of the message contracts in ``schemas/``: compatibility of every change with the committed versions."""
