"""The conformance suite: model cases per family, tolerance profiles, committed results."""
