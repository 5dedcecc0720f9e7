# IPython (and Jupyter kernels): changed modules are reloaded before each command.
c = get_config()  # noqa: F821
c.InteractiveShellApp.extensions = ["autoreload"]
c.InteractiveShellApp.exec_lines = ["%autoreload 2"]
