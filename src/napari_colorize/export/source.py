"""The architecture source of an exported package: the networks and wrappers as one plain file.

A ``pytorch_state_dict`` consumer builds the network from source it can import without
napari-colorize. Rather than keep a second copy of the networks, the file is assembled from this
package's own modules (their relative imports dropped), so it cannot drift from what the engine
runs; ``tests/export`` checks that it imports alone and matches the package's networks.
"""

from __future__ import annotations

import ast
import importlib
import inspect

#: The modules the wrappers need, in dependency order.
MODULES = (
    "napari_colorize.core.lab",
    "napari_colorize.models.trunk",
    "napari_colorize.models.network",
    "napari_colorize.models.fraction_net",
    "napari_colorize.export.wrapped",
)
HEADER = '''"""napari-colorize networks, standalone: the architecture of an exported bioimage.io
model (needs only torch).

Assembled from napari-colorize {version} ({modules}).
"""

from __future__ import annotations
'''


def architecture_source() -> str:
    """Return the standalone source of the networks and their wrappers.

    Returns
    -------
    str
        Python source defining ``GrayToRGB`` and ``GrayToFractions`` (and what they use),
        importing only the standard library and torch.

    Examples
    --------
    >>> namespace: dict = {}
    >>> exec(compile(architecture_source(), "architecture.py", "exec"), namespace)
    >>> sorted(k for k in ("GrayToRGB", "GrayToFractions") if k in namespace)
    ['GrayToFractions', 'GrayToRGB']
    """
    from .. import __version__

    parts = [HEADER.format(version=__version__, modules=", ".join(m.rsplit(".", 1)[1]
                                                                  for m in MODULES))]
    for name in MODULES:
        parts.append(f"\n# ---- {name} " + "-" * max(0, 80 - len(name)))
        parts.append(_standalone(inspect.getsource(importlib.import_module(name))))
    return "\n".join(parts)


def _standalone(source: str) -> str:
    """Drop a module's docstring, ``from __future__`` and package-relative imports."""
    tree = ast.parse(source)
    drop: set[int] = set()
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        relative = isinstance(node, ast.ImportFrom) and (node.level > 0
                                                         or node.module == "__future__")
        if docstring or relative:
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    lines = source.splitlines()
    return "\n".join(line for n, line in enumerate(lines, 1) if n not in drop).strip() + "\n"
