"""One local Ray cluster for the whole test session (2 CPUs), shared by every scale-out test.

Ray comes with the ``ray`` extra (CI installs it); without it the Ray tests are skipped.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster(shared_weights_env):
    """The session's Ray: started once with 2 CPUs; yields its address (for a second driver to join)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
