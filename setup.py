"""Build hook for the optional compiled parser; everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and `actors.twitch.irc`
uses its Python parser (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "actors.twitch._irc_accel",
            sources=["actors/twitch/_irc_accel.c"],
            optional=True,
        )
    ]
)
