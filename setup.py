"""Packaging that pyproject.toml cannot say on its own: the repository's top-level ``configs/``
ships inside the package as ``seqnet/configs`` (one source, mapped at build time, never copied
into ``src/``), so a wheel or a regular ``pip install .`` carries seqnet's configs; and seqnet's
Optuna sweeper lives in the namespace package ``hydra_plugins``; the C++ kernels' sources ship
as package data. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    # hydra_plugins is a namespace package (Hydra finds sweepers there): named, not found.
    packages=[*find_packages("src"), "hydra_plugins.seqnet_optuna", "seqnet.configs"],
    package_dir={"": "src", "seqnet.configs": "configs"},
    package_data={
        "seqnet.configs": ["*.yaml", "**/*.yaml"],
        # the C++ kernels' sources, compiled at first use (seqnet.models.kernels.native)
        "seqnet.models.kernels": ["csrc/*.cpp", "csrc/*.h"],
    },
)
