"""Hardware models: frozen, validated specs, YAML presets and their loader.

Knows nothing of simulation.
"""

from hwmodels.device import Device, MemoryLevel
from hwmodels.errors import HardwareSpecError
from hwmodels.loader import apply_overrides, list_presets, load_hardware, spec_from_mapping
from hwmodels.scalesim_cfg import read_scalesim_cfg
from hwmodels.systolic import Dataflow, SystolicArraySpec

__all__ = [
    "Dataflow",
    "Device",
    "MemoryLevel",
    "HardwareSpecError",
    "SystolicArraySpec",
    "apply_overrides",
    "list_presets",
    "load_hardware",
    "read_scalesim_cfg",
    "spec_from_mapping",
]
