import {{module}}


def test_greet():
    assert {{module}}.greet("dstack") == "Hello, dstack!"
