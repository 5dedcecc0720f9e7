print("hello from the built-in scripts")
