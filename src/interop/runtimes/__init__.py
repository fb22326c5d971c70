"""Built-in runtimes, one module per way of running a model; frameworks load on first use."""
