"""What differs between the Hydra releases hyrun runs on (1.3 and 1.4; README, "Development").

Hydra 1.3 wants ``version_base`` (it warns without one); 1.4 deprecates the parameter (it warns
with one) and its defaults are 1.3's for everything hyrun uses (hyrun's config sets
``hydra.job.chdir: false`` itself).
"""
from __future__ import annotations

from typing import Any

import hydra


def main_kwargs() -> dict[str, Any]:
    """The ``version_base`` argument for ``hydra.main`` and the compose API, where it is wanted."""
    major, minor = (int(part) for part in hydra.__version__.split(".")[:2])
    return {"version_base": "1.3"} if (major, minor) < (1, 4) else {}
