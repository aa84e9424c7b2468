"""The package stays readable: no import cycles, short functions, a small training loop, true lesson tags.

These read the source (with `ast`) and the lessons; they fail with the place to fix.
"""
import ast
import json
import re

import pytest
from conftest import ROOT

PKG = ROOT / "gan_lessons"
LESSONS = ROOT / "notebooks"
SPEED_OPTIONS = {"precision", "cuda_graph", "compile", "channels_last", "reuse_fake", "ema"}


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(importer, node, modules):
    """The gan_lessons modules an import statement (anywhere in the file) pulls in."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in modules}
    package = importer if modules[importer].name == "__init__.py" else importer.rpartition(".")[0]
    if node.level:
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    if not base.startswith("gan_lessons"):
        return set()
    found = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
    if base in modules and len(found) < len(node.names):  # names defined in that module (or package)
        found.add(base)
    return found


def _import_graph():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        deps = set()
        for node in ast.walk(tree):  # function-level imports count too
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= _resolve(name, node, modules)
        graph[name] = deps - {name}
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if dep.startswith(node + "."):  # a package importing its own submodules is not a cycle
                continue
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_the_package():
    graph = _import_graph()
    assert graph["gan_lessons.history"], "the import graph looks empty: the parser is broken"
    cycle = _cycle(graph)
    assert cycle is None, "import cycle (function-level imports count): " + " -> ".join(cycle)


def _functions():
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield name, node


def test_no_function_is_longer_than_80_lines():
    long = [f"{mod}.{f.name} ({f.end_lineno - f.lineno + 1} lines)" for mod, f in _functions()
            if f.end_lineno - f.lineno + 1 > 80]
    assert not long, f"split these functions: {long}"


def test_train_is_a_short_loop_with_few_knobs_and_no_speed_option():
    tree = ast.parse((PKG / "train.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train")
    args = [a.arg for a in fn.args.args + fn.args.kwonlyargs]
    assert args[:4] == ["G", "D", "data", "steps"]
    assert len(args) - 4 <= 16, f"train has {len(args) - 4} knobs besides G, D, data, steps: {args[4:]}"
    assert not SPEED_OPTIONS & set(args), f"speed options belong in gan_lessons.speed: {SPEED_OPTIONS & set(args)}"
    assert fn.end_lineno - fn.lineno + 1 <= 60


def test_course_tooling_is_not_imported_by_the_learner_package():
    graph = _import_graph()
    learner = [m for m in graph if not m.startswith("gan_lessons.course")]
    leaks = [m for m in learner if any(d.startswith("gan_lessons.course") for d in graph[m])]
    assert not leaks, f"these learner modules import the course tooling: {leaks}"


# -- "(lesson NN)" in a docstring means lesson NN calls it ------------------------------------------

TAG = re.compile(r"\(lessons? ((?:\d\d)(?:\s*(?:,|-|and)\s*\d\d)*)\)")


def _lesson_numbers(text):
    out = set()
    for part in re.split(r"\s*(?:,|and)\s*", text):
        a, _, b = part.partition("-")
        out |= set(range(int(a), int(b or a) + 1))
    return out


def test_tag_parser():
    assert _lesson_numbers("03-05, 07") == {3, 4, 5, 7}
    assert TAG.search("Noise z (lesson 03).").group(1) == "03"
    assert TAG.search("x (lessons 05 and 06)").group(1) == "05 and 06"


def _lesson_code():
    code = {}
    for path in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code[int(path.name[:2])] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return code


def _tagged():
    """(module, name, lesson numbers) for every module-level function and class whose docstring has a tag."""
    for mod, path in _modules().items():
        if mod.startswith("gan_lessons.course"):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                m = TAG.search(ast.get_docstring(node) or "")
                if m:
                    yield mod, node.name, _lesson_numbers(m.group(1))


def test_every_lesson_tag_is_true():
    code = _lesson_code()
    tagged = list(_tagged())
    assert len(tagged) > 20, "found almost no tags: the parser is broken"
    false = []
    for mod, name, lessons in tagged:
        for n in sorted(lessons):
            if not re.search(rf"(\.|import |, ){name}\b", code.get(n, "")):
                false.append(f"{mod}.{name} says lesson {n:02d}, which never calls it")
    assert not false, "\n".join(false)


@pytest.mark.parametrize("path", sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_lessons_need_one_import_line(path):
    """`import gan_lessons as gl` loads submodules on first use: no `from gan_lessons import ...  # noqa`."""
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    assert "import gan_lessons as gl" in code
    assert not re.search(r"^from gan_lessons import", code, re.M), "remove the redundant import line"
