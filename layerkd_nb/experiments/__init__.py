"Experiments: configuration and presets, runs and results, the runner, reports, grids and the `layerkd` command."
from . import config, results, runner, report, grids, verdicts, cli
from .config import *
from .results import *
from .runner import *
from .report import *
from .grids import *
from .verdicts import *
from .cli import *
__all__ = [name for module in (config, results, runner, report, grids, verdicts, cli) for name in module.__all__]
