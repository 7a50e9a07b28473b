"""One Python config file read as data: parsed with ``ast`` and evaluated statement by
statement (``expressions``), never executed.

Why not run it as MMCV does (``import`` of the file): a config downloaded with a model zoo
is data, and running it would run whatever it holds. Statements read: assignments (to names,
tuples of names, and keys or attributes of dicts: MMEngine's ``train_cfg.max_epochs = 3``),
``x.update(...)`` / ``x.merge(...)`` on dicts, ``import`` lines (their names become
``values.Imported``, nothing is imported), MMEngine's ``with read_base():`` block of
relative ``from .. import`` lines (those files are read the same way), docstrings and
``pass``. Anything else (a function or class, a loop, an ``if``) is a ``ConfigParseError``
naming the file and line.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyrun.convert.expressions import BASE_NAME, ConfigParseError, Evaluator
from hyrun.convert.values import Imported, Unknown

__all__ = ["ConfigParseError", "FileSettings", "read_file"]

# (bases given in the file, the line) -> the bases' merged settings; (module file) -> its names
BaseLoader = Callable[[Any, int], dict[str, Any]]
ModuleLoader = Callable[[Path], dict[str, Any]]
READ_BASE = "mmengine.config.read_base"
_DICT_METHODS = ("update", "merge")


@dataclass(frozen=True)
class FileSettings:
    names: dict[str, Any]  # every name the file assigns, in order, evaluated
    read: frozenset[str]  # the names a later expression of the file reads (its variables)
    bases: dict[str, Any]  # what its _base_ files gave (merged), for the caller to merge under
    new_style: bool  # MMEngine's pure-Python config (with read_base(): ...)


def read_file(path: Path, load_bases: BaseLoader, load_module: ModuleLoader) -> FileSettings:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigParseError(path, None, f"cannot be read ({error})") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise ConfigParseError(path, error.lineno, f"not valid Python: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, absurd nesting
        raise ConfigParseError(path, None, f"cannot be parsed ({type(error).__name__}: {error})") from None
    reader = _FileReader(path, load_bases, load_module)
    try:
        for statement in tree.body:
            reader.run(statement)
    except RecursionError:
        raise ConfigParseError(path, None, "nested too deeply to be read") from None
    # MMCV leaves out dunder names (__file__ and the like) the same way; imports are no settings
    names = {name: value for name, value in reader.names.items()
             if not name.startswith("__") and not isinstance(value, Imported)}
    return FileSettings(names, frozenset(reader.read), reader.bases, reader.new_style)


class _FileReader(Evaluator):
    def __init__(self, path: Path, load_bases: BaseLoader, load_module: ModuleLoader) -> None:
        super().__init__(path, self._base_value)
        self.load_bases, self.load_module = load_bases, load_module
        self.bases: dict[str, Any] = {}
        self.new_style = False

    def run(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Assign):
            value = self.evaluate(statement.value)
            for target in statement.targets:
                self._assign(target, value)
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            self._assign(statement.target, self.evaluate(statement.value))
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            self._import(statement)
        elif isinstance(statement, ast.With):
            self._read_base(statement)
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
                and isinstance(statement.value.value, str):
            pass  # a docstring
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) \
                and isinstance(statement.value.func, ast.Attribute) and statement.value.func.attr in _DICT_METHODS:
            self._dict_method(statement.value)
        elif not isinstance(statement, ast.Pass):
            raise self.refused(statement, _STATEMENT_KINDS.get(type(statement), "this statement"))

    # -- assignments ------------------------------------------------------------------------------
    def _assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name) and target.id == BASE_NAME:
            self.names[BASE_NAME] = value
            self.bases = self.load_bases(value, target.lineno)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            owner = self.evaluate(target.value)
            key = target.attr if isinstance(target, ast.Attribute) else self.evaluate(target.slice)
            if isinstance(key, str) and key.startswith("__"):
                raise self.refused(target, f"assigning the dunder name {key}")
            if not isinstance(owner, dict) or isinstance(target.slice if isinstance(target, ast.Subscript)
                                                         else None, ast.Slice):
                raise self.refused(target, f"assigning into a {type(owner).__name__}")
            owner[key] = value  # a dict shared with where it came from, as in Python
        else:
            self.bind(target, value)

    def _dict_method(self, call: ast.Call) -> None:
        """MMEngine's ``ConfigDict.update`` (nested dicts updated, not replaced) and
        ``merge`` (MMCV's merge, ``_delete_`` honoured)."""
        from hyrun.convert.parse import merge

        owner = self.evaluate(call.func.value)  # type: ignore[attr-defined]
        method = call.func.attr  # type: ignore[attr-defined]
        if not isinstance(owner, dict) or call.keywords and method == "merge" or len(call.args) > 1:
            raise self.refused(call, f"calling {method}() on a {type(owner).__name__}")
        other = self.evaluate(call.args[0]) if call.args else {}
        if not isinstance(other, dict):
            raise self.refused(call, f"{method}() with a {type(other).__name__}")
        other = {**other, **{k.arg: self.evaluate(k.value) for k in call.keywords if k.arg is not None}}
        merged = merge(other, owner) if method == "merge" else _updated(owner, other)
        owner.clear()
        owner.update(merged)

    # -- imports --------------------------------------------------------------------------------
    def _import(self, statement: ast.Import | ast.ImportFrom) -> None:
        where = f"{self.path.name}:{statement.lineno}"
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.split(".")[0]
                self.names[bound] = Imported(alias.name if alias.asname else bound, where)
            return
        if statement.level:
            raise self.refused(statement, "a relative import outside `with read_base():`")
        for alias in statement.names:
            if alias.name == "*":
                raise self.refused(statement, "`import *` of a module (its names are unknown without importing it)")
            self.names[alias.asname or alias.name] = Imported(f"{statement.module}.{alias.name}", where)

    def _read_base(self, statement: ast.With) -> None:
        """``with read_base(): from .._base_.x import *``: the base file's names, read here."""
        [item] = statement.items if len(statement.items) == 1 else [None]
        context = item.context_expr if item is not None else None
        callee = self.evaluate(context.func) if isinstance(context, ast.Call) and not context.args else None
        if not isinstance(callee, Imported) or callee.path != READ_BASE or item.optional_vars is not None:
            raise self.refused(statement, "a with statement (other than MMEngine's `with read_base():`)")
        self.new_style = True
        for line in statement.body:
            if not isinstance(line, ast.ImportFrom) or not line.level:
                raise self.refused(line, "anything but relative `from ... import` lines in read_base()")
            folder = self.path.parent
            for _ in range(line.level - 1):
                folder = folder.parent
            module = folder.joinpath(*(line.module or "").split(".")).with_suffix(".py")
            names = self.load_module(module)
            for alias in line.names:
                if alias.name == "*":
                    self.names.update(names)
                elif alias.name in names:
                    self.names[alias.asname or alias.name] = names[alias.name]
                else:
                    raise ConfigParseError(self.path, line.lineno, f"{module} defines no {alias.name!r}")

    def _base_value(self, dotted: str, node: ast.AST) -> Any:
        if BASE_NAME not in self.names:
            raise ConfigParseError(self.path, getattr(node, "lineno", None),
                                   f"_base_.{dotted} is read before _base_ is set")
        value: Any = self.bases
        for key in dotted.split("."):
            if isinstance(value, Unknown):
                return value
            if not isinstance(value, dict) or key not in value:
                raise ConfigParseError(self.path, getattr(node, "lineno", None),
                                       f"the _base_ files define no {dotted!r}")
            value = value[key]
        return value


def _updated(owner: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    result = dict(owner)
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _updated(result[key], value)
        else:
            result[key] = value
    return result


_STATEMENT_KINDS: dict[type, str] = {
    ast.FunctionDef: "a function definition", ast.AsyncFunctionDef: "a function definition",
    ast.ClassDef: "a class definition", ast.If: "an if statement", ast.For: "a loop", ast.While: "a loop",
    ast.Try: "a try statement", ast.Delete: "a del statement",
    ast.AugAssign: "an augmented assignment (+= and the like)",
    ast.Expr: "an expression that is not assigned to a name", ast.Global: "a global statement",
    ast.Raise: "a raise statement", ast.Assert: "an assert statement",
}
