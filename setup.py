"""Packaging detail pyproject.toml cannot say: ship the top-level ``conf/`` inside the package as
``infocam/conf``, so a wheel (or a container built from one) finds its Hydra configs."""

from setuptools import find_namespace_packages, find_packages, setup

CONFIG_PACKAGES = ["infocam.conf"] + [f"infocam.conf.{name}" for name in find_namespace_packages("conf")]

setup(
    packages=find_packages(include=["infocam", "infocam.*"]) + CONFIG_PACKAGES,
    package_dir={"infocam.conf": "conf"},
    package_data={"infocam": ["py.typed"], **{name: ["*.yaml"] for name in CONFIG_PACKAGES}},
)
