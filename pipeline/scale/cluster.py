"""Ray: start a local cluster or join one, and put one :class:`.worker.StyleWorker` actor on each device.

With GPUs in the cluster every actor asks for ``num_gpus=1`` (Ray gives it its own GPU through
CUDA_VISIBLE_DEVICES); otherwise ``--workers N`` CPU actors split the CPU cores between them, each
with ``cores ÷ N`` torch threads. Ray is imported here only, so nothing else needs it installed.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..config import VideoConfig
from ..errors import StylevidError

if TYPE_CHECKING:
    from .worker import WorkerSetup

INSTALL_HINT = "pip install 'stylevid[ray]'"

#: How often Ray brings a dead worker back (a new process on the same device) before it is lost for good.
MAX_RESTARTS = 3


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def check_ray_installed() -> None:
    """A clear line, before any work, when --workers/--cluster are asked for without Ray."""
    if not ray_available():
        raise StylevidError(f"--workers and --cluster need Ray, which is not installed: {INSTALL_HINT}")


def _ray() -> Any:
    check_ray_installed()
    import ray

    return ray


@dataclass
class Workers:
    actors: list[Any]  # Ray actor handles
    gpus: bool  # each actor holds one GPU
    threads: int  # torch threads per CPU actor (0: the defaults)
    address: str  # "local" or the cluster joined
    setup: Any = None  # object ref of the actors' construction arguments: held so that a restart finds them


def connect(cluster: str | None) -> tuple[str, dict[str, float]]:
    """Start a local Ray (``cluster`` None) or join ``cluster`` ("auto" or HOST:PORT); returns
    (address, the cluster's resources). A Ray already started in this process is used as it is."""
    ray = _ray()
    if not ray.is_initialized():
        try:
            if cluster is None:
                ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            else:
                ray.init(address=cluster, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            where = "a local Ray cluster" if cluster is None else f"the Ray cluster at {cluster}"
            raise StylevidError(f"could not start or join {where}: {first}") from None
    address = "local" if cluster is None else cluster
    return address, dict(ray.cluster_resources())


def worker_count(config: VideoConfig, resources: dict[str, float]) -> tuple[int, bool]:
    """(actors, on GPUs): ``config.workers`` of them, or one per GPU (else per CPU core) of the cluster."""
    gpus = int(resources.get("GPU", 0)) if config.style.device != "cpu" else 0
    cpus = max(1, int(resources.get("CPU", 1)))
    return config.workers or (gpus if gpus else cpus), bool(gpus)


def start_workers(setup: WorkerSetup, config: VideoConfig, resources: dict[str, float], address: str) -> Workers:
    """One actor per device (see :func:`worker_count`); each builds its engine from ``setup``."""
    ray = _ray()
    from .worker import StyleWorker

    gpus = int(resources.get("GPU", 0)) if config.style.device != "cpu" else 0
    cpus = max(1, int(resources.get("CPU", 1)))
    count, on_gpus = worker_count(config, resources)
    if on_gpus:
        if count > gpus:
            raise StylevidError(f"--workers {count} asks for more GPU workers than the cluster's {gpus} GPUs")
        options: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
        threads = 0
    else:
        if count > cpus:
            raise StylevidError(f"--workers {count} asks for more CPU workers than the cluster's {cpus} CPU cores")
        threads = max(1, cpus // count)
        options = {"num_cpus": threads}
    # Ray gives a GPU actor its own GPU as cuda:0; a CPU actor never looks for one
    style = setup.config.style.replace(device="cuda" if on_gpus else "cpu")
    setup_ref = ray.put(replace(setup, config=setup.config.replace(style=style)))
    actor = ray.remote(max_restarts=MAX_RESTARTS, max_task_retries=0, **options)(StyleWorker)
    actors = [actor.remote(setup_ref, threads) for _ in range(count)]
    return Workers(actors, on_gpus, threads, address, setup_ref)


def wait_for_restart(actor: Any, timeout: float) -> dict[str, Any] | None:
    """The description of ``actor`` once Ray has brought it back after its process died; None when it
    does not come back within ``timeout`` seconds (its restarts used up, or its machine gone).

    Right after the death a call may meet the old process's broken connection ("temporarily
    unavailable") before Ray starts the new one: such calls are made again until the deadline.
    """
    import time

    ray = _ray()
    from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            described: dict[str, Any] = ray.get(actor.describe.remote(), timeout=left)
            return described
        except ActorUnavailableError:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        except (RayActorError, GetTimeoutError):
            return None
