"""IPython kernel configuration of the book's virtual environment.

``make`` copies this file to ``.venv/etc/ipython/``, where every kernel started from
``.venv`` reads it: the book build, ``make test`` and ``make timings`` all run chapters
in such kernels.

At exit, a kernel that has imported PyTorch, ``torch._dynamo`` (imported by the first
optimiser step), SymPy and SciPy spends one to two seconds in the interpreter's final
garbage collections, which walk the hundreds of thousands of objects these libraries
keep until the process ends. ``gc.freeze()`` in an exit handler moves them out of the
collector's reach, so the kernel exits at once: nothing a chapter computes or prints
changes (exit handlers still run; only cyclic garbage left at exit is not collected,
which the process's end frees anyway). ``exec_lines`` run before the first cell,
without an execution count.
"""

c = get_config()  # noqa: F821 (provided by IPython when it loads this file)
c.InteractiveShellApp.exec_lines = [
    "import atexit as _a, gc as _g; _a.register(_g.freeze); del _a, _g"
]
