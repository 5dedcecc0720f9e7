"""{{name}}: what it does, in one line."""

__version__ = "0.1.0"


def greet(name: str = "world") -> str:
    """Says hello; a first function with a first test (tests/test_{{module}}.py)."""
    return f"Hello, {name}!"
