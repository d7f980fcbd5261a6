"Maps: their options, weight derivatives, map methods and attention maps, Jacobian and Hessian maps, input-Jacobian maps."
# The modules' public names, re-exported on first use: `options` imports no torch, so that the `layerkd` command checks
# the map options at once.
from .. import lazy_exports
__getattr__, __dir__ = lazy_exports(__name__, ('options', 'weight_derivatives', 'core', 'derivative_maps', 'input_jacobian'))
