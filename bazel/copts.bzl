"""Compiler flags shared by every Shoal target (mirrors CXXFLAGS in the Makefile).

The optimisation level (-O2 in the Makefile) is set in .bazelrc so that `-c dbg` can override it.
"""

SHOAL_COPTS = [
    "-std=c++20",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-pthread",
]
