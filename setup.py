"""Build hook for the optional compiled hot paths; everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds, and `actors.twitch.irc`
and `actors.events` use their Python twins (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "actors.twitch._irc_accel", sources=["actors/twitch/_irc_accel.c"], optional=True
        ),
        Extension("actors._slotted", sources=["actors/_slotted.c"], optional=True),
    ]
)
