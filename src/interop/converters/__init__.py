"""Built-in converters, one module per (source -> target); each imports its framework lazily."""
