"""A module whose import blocks where the importing demo says (demo/import_lock.py): its
top-level code calls back into the demo through the `_import_gate` module the demo put in
sys.modules. Not a scenario (the leading underscore)."""

import _import_gate

_import_gate.inside()
VALUE = 42
