"""Map the ``services/`` folder to the ``hoso`` import package.

setuptools' ``package-dir`` maps ``hoso`` to ``services``; ``find_packages`` returns the
sub-packages relative to that folder, so they are prefixed here. No ``sys.path`` tricks.
"""

from setuptools import find_packages, setup

setup(packages=["hoso"] + [f"hoso.{name}" for name in find_packages("services")])
