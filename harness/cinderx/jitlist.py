"""Print a CinderX JIT list for a benchmark script: every top-level function and every method
of a top-level class, as `__main__:qualname` (runs on the host's Python)."""
import ast
import sys

tree = ast.parse(open(sys.argv[1]).read())
for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        print(f"__main__:{node.name}")
    elif isinstance(node, ast.ClassDef):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                print(f"__main__:{node.name}.{item.name}")
