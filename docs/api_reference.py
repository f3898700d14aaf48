"""Build the API reference (HTML, with pdoc) from the docstrings, every warning an error.

    python3 dev.py docs [OUTPUT_DIR]      # default: build/api

Every module of the package is documented (``__main__`` excepted, which would run the
command line), and the pytest plugin. Docstrings are reStructuredText. The only warnings
let through are pdoc's about annotations that exist for type checkers alone
(``_typeshed``'s WSGI types, ``argparse._SubParsersAction[...]``): they are shown as
written, which is what they are.
"""

from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path

TYPING_ONLY = r".*(_typeshed|WSGIApplication|_SubParsersAction|_Actions)"


def modules(package: str = "ect_middleware") -> list[str]:
    """The package and every module in it, in import-name order."""
    root = __import__(package)
    found = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            found.append(info.name)
    return sorted(found)


def build(output: Path) -> list[str]:
    """Write the reference into ``output``; the modules documented."""
    warnings.filterwarnings("error")
    warnings.filterwarnings("ignore", message=TYPING_ONLY)
    import pdoc
    import pdoc.extract
    import pdoc.render

    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=True)
    # pdoc adds the submodules of a package that has no ``__all__`` itself, and those of
    # one that has, only if listed: name each module once, by the first spec that covers it.
    specs: list[str] = []
    covered: set[str] = set()
    for name in [*modules(), "ect_middleware_pytest"]:
        if name not in covered:
            specs.append(name)
            covered.update(pdoc.extract.walk_specs([name]))
    pdoc.pdoc(*specs, output_directory=output)
    return sorted(covered)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "build/api")
    documented = build(target)
    sys.stdout.write(f"API reference: {len(documented)} modules in {target}/index.html\n")
