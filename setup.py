"""Only what pyproject.toml cannot say: the top-level resources/ folder (icons, palettes, the .desktop file) is
shipped inside the wheel as the package data `seg_desktop/resources` (see seg_desktop/core/resource_files.py)."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["seg_desktop*"]), "seg_desktop.resources"])
