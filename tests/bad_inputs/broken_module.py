"""A factory module that fails while it is imported."""

raise RuntimeError("this module cannot be imported")


def build() -> None:
    """Never reached."""
