"""What every measured row records about where it ran: device, driver, software and host."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

#: Seconds to wait for `nvidia-smi` before leaving the driver column empty.
NVIDIA_SMI_TIMEOUT_S = 10


def _cpu_name() -> str:
    """The ``model name`` line of /proc/cpuinfo, else `platform.processor()`."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _nvidia_driver(index: int) -> str:
    """The driver version `nvidia-smi` reports for GPU `index`, or "" when it cannot be run."""
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", f"--id={index}"],
            capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def environment(device: torch.device) -> dict[str, str]:
    """The columns `device_name`, `driver`, `cuda_version`, `torch_version`, `triton_version`,
    `python_version` and `host` for rows measured on `device` (driver and CUDA empty on a CPU)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        name, driver, cuda = torch.cuda.get_device_name(index), _nvidia_driver(index), torch.version.cuda
    else:
        name, driver, cuda = _cpu_name(), "", ""
    return {
        "device_name": name,
        "driver": driver,
        "cuda_version": cuda or "",
        "torch_version": torch.__version__,
        "triton_version": _version("triton"),
        "python_version": platform.python_version(),
        "host": platform.node(),
    }
