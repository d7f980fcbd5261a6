"Experiments: configuration and presets, runs and results, the runner, reports, grids and the `layerkd` command."
# The modules' public names, re-exported on first use: `config` and `cli` import no torch, so that `layerkd --help` (which
# imports `layerkd_nb.experiments.cli`, and with it this package) answers at once; the runner imports torch and fastai.
from .. import lazy_exports
__getattr__, __dir__ = lazy_exports(__name__, ('config', 'results', 'runner', 'report', 'grids', 'cli'))
