"""The conformance harness: inputs, comparison, timing, isolation and reports."""
