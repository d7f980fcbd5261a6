__version__ = "0.0.1"

import warnings
# fastai 2.8 decorates some functions with `torch.jit.script`, which recent torch marks deprecated at import time.
warnings.filterwarnings('ignore', message=r'`torch.jit.script` is deprecated', category=FutureWarning)

def lazy_exports(package:str, # the package's `__name__`
                 modules:tuple, # its modules, in reading order
                )->tuple: # (`__getattr__`, `__dir__`) for the package's `__init__`
    "A package that re-exports its modules' public names (`__all__`), importing each module when first asked for"
    import sys
    from importlib import import_module
    def __getattr__(name):
        if name in modules: return import_module(f'{package}.{name}')
        if name == '__all__': value = [n for m in modules for n in import_module(f'{package}.{m}').__all__]
        else:
            module = next((module for m in modules if name in (module := import_module(f'{package}.{m}')).__all__), None)
            if module is None: raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value
    def __dir__(): return sorted(set(vars(sys.modules[package])) | set(__getattr__('__all__')))
    return __getattr__, __dir__
