"""Tests of services.cases: working-day calendars and the deadline rules of cases."""
