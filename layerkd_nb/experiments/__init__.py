"Experiments: configuration and presets, runs and results, the runner, reports, grids and the `layerkd` command."
from importlib import import_module

# The modules' public names, re-exported on first use: `config` and `cli` import no torch, so that `layerkd --help` (which
# imports `layerkd_nb.experiments.cli`, and with it this package) answers at once; the runner imports torch and fastai.
_modules = ('config', 'results', 'runner', 'report', 'grids', 'cli')

def __getattr__(name):
    "A module of the package, its names (`__all__`), or a public name of the first module that has it, imported when first asked for"
    if name in _modules: return import_module(f'{__name__}.{name}')
    if name == '__all__': value = [n for m in _modules for n in import_module(f'{__name__}.{m}').__all__]
    else:
        module = next((module for m in _modules if name in (module := import_module(f'{__name__}.{m}')).__all__), None)
        if module is None: raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(module, name)
    globals()[name] = value
    return value

def __dir__(): return sorted(set(globals()) | set(__getattr__('__all__')))
