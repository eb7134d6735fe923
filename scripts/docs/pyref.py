"""The Python API reference from the package's source, without importing it (no build needed):
every public module, class, function and method of python/numpack with its signature and
docstring, read with ``ast``. Prints JSON: ``[{"module", "doc", "items": [...]}]``.

Usage: python3 scripts/docs/pyref.py python/numpack
"""

import ast
import json
import sys
from pathlib import Path


def signature(fn: ast.AST) -> str:
    """``name(args) -> ret`` of a function definition, as written in the source."""
    prefix = "async def " if isinstance(fn, ast.AsyncFunctionDef) else ""
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"{prefix}{fn.name}({ast.unparse(fn.args)}){ret}"


def public(name: str) -> bool:
    """Whether a name is documented: public names, and ``__init__`` / ``__call__``."""
    return not name.startswith("_") or name in ("__init__", "__call__")


def describe_function(fn, owner=None):
    decorators = [ast.unparse(d) for d in fn.decorator_list]
    kind = "property" if "property" in decorators else ("staticmethod" if "staticmethod" in decorators
                                                         else ("classmethod" if "classmethod" in decorators
                                                               else ("method" if owner else "function")))
    return {"kind": kind, "name": fn.name, "signature": signature(fn), "doc": ast.get_docstring(fn) or ""}


def describe_class(cls):
    bases = ", ".join(ast.unparse(b) for b in cls.bases)
    members = [describe_function(n, cls.name) for n in cls.body
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and public(n.name)]
    return {"kind": "class", "name": cls.name, "signature": f"class {cls.name}({bases})" if bases else f"class {cls.name}",
            "doc": ast.get_docstring(cls) or "", "members": members}


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def main(root: Path):
    modules = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(p.startswith("_") and p != "__init__.py" for p in rel.parts) or "tests" in rel.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        exported = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                try:
                    exported = set(ast.literal_eval(node.value))
                except ValueError:
                    exported = None
        items = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and public(node.name) and node.name != "__init__":
                if exported is None or node.name in exported:
                    items.append(describe_function(node))
            elif isinstance(node, ast.ClassDef) and public(node.name):
                if exported is None or node.name in exported:
                    items.append(describe_class(node))
        modules.append({"module": module_name(root, path), "doc": ast.get_docstring(tree) or "", "items": items,
                        "exports": sorted(exported) if exported else []})
    json.dump(modules, sys.stdout, indent=1)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "python/numpack").resolve())
