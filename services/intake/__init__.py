"""Intake: national payloads -> sealed envelopes on the jurisdiction's feed topic."""
