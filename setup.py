"""Build hook for the one compiled module; everything else is declared in pyproject.toml.

optional=True: a machine without a C compiler still installs and runs the pure-Python path.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "tradestack._native._speedups",
            sources=["src/tradestack/_native/_speedups.c"],
            optional=True,
        )
    ]
)
