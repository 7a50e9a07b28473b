"""One Python config file read as data: parsed with ``ast`` and evaluated by a small
interpreter that knows literals, names assigned earlier in the same file, ``dict()`` /
``list()`` / ``tuple()``, ``*`` / ``**`` unpacking and arithmetic, and nothing else.

Why not run it as MMCV does (``import`` of the file): a config downloaded with a model zoo
is data, and running it would run whatever it holds. Anything outside that small language
(a call of another function, an import, attribute access, a lambda, a loop) is a
``ConfigParseError`` naming the file and line; nothing in the file is ever executed.
"""
from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONSTRUCTORS = ("dict", "list", "tuple")
# a bigger exponent of an int could take hours (10 ** 10 ** 10): no config needs one
MAX_INT_EXPONENT = 10_000

_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_SIGNS: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
# sequences may be joined with + (a base list extended); repeating them (* n) is refused
_JOINABLE = (str, list, tuple)


class ConfigParseError(Exception):
    """A config that cannot be read as data; the message names the file and the line."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path, self.line, self.message = Path(path), line, message
        shown = _as_given(self.path)
        super().__init__(f"{shown}:{line}: {message}" if line else f"{shown}: {message}")


def _as_given(path: Path) -> Path:
    """Paths are resolved to follow _base_ chains; a message shows them relative to the
    working folder when they are inside it, as the user typed them."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


@dataclass(frozen=True)
class FileSettings:
    names: dict[str, Any]  # every name the file assigns, in order, evaluated
    read: frozenset[str]  # the names a later expression of the file reads (its variables)


def read_file(path: Path) -> FileSettings:
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
    interpreter = _Interpreter(path)
    try:
        for statement in tree.body:
            interpreter.run(statement)
    except RecursionError:
        raise ConfigParseError(path, None, "nested too deeply to be read") from None
    # MMCV leaves out dunder names (__file__ and the like) the same way
    names = {name: value for name, value in interpreter.names.items() if not name.startswith("__")}
    return FileSettings(names, frozenset(interpreter.read))


class _Interpreter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.names: dict[str, Any] = {}
        self.read: set[str] = set()

    def run(self, statement: ast.stmt) -> None:
        if isinstance(statement, ast.Assign):
            value = self.evaluate(statement.value)
            for target in statement.targets:
                self.names[self._target_name(target)] = value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            self.names[self._target_name(statement.target)] = self.evaluate(statement.value)
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
                and isinstance(statement.value.value, str):
            pass  # a docstring
        elif not isinstance(statement, ast.Pass):
            raise self._refused(statement, _STATEMENT_KINDS.get(type(statement), "this statement"))

    def evaluate(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (bool, int, float, str)):
                return node.value
            raise self._refused(node, f"a {type(node.value).__name__} literal")
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            items: list[Any] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):  # [*base_list, ...]
                    items += self._unpacked(element.value, (list, tuple))
                else:
                    items.append(self.evaluate(element))
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            result: dict[Any, Any] = {}
            for key, value in zip(node.keys, node.values):
                if key is None:  # {**base_dict, ...}
                    result.update(self._unpacked(value, (dict,)))
                else:
                    result[self._key(key)] = self.evaluate(value)
            return result
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _SIGNS:
            operand = self.evaluate(node.operand)
            if not _is_number(operand):
                raise self._refused(node, f"a sign in front of a {type(operand).__name__}")
            return _SIGNS[type(node.op)](operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return self._arithmetic(node)
        raise self._refused(node, _EXPRESSION_KINDS.get(type(node), "this expression"))

    def _name(self, node: ast.Name) -> Any:
        if node.id not in self.names:
            raise ConfigParseError(self.path, node.lineno, f"name {node.id!r} is not defined before this line (a "
                                                           f"config sees only names assigned above it in its file)")
        self.read.add(node.id)
        return self.names[node.id]

    def _target_name(self, target: ast.expr) -> str:
        if isinstance(target, ast.Name):
            return target.id
        raise self._refused(target, "assigning to anything but a plain name")

    def _key(self, node: ast.expr) -> Any:
        key = self.evaluate(node)
        if isinstance(key, (dict, list)):
            raise self._refused(node, "a dict or list as a dict key")
        return key

    def _unpacked(self, node: ast.expr, kinds: tuple[type, ...]) -> Any:
        value = self.evaluate(node)
        if not isinstance(value, kinds):
            raise self._refused(node, f"unpacking a {type(value).__name__}")
        return value

    def _call(self, node: ast.Call) -> Any:
        function = node.func.id if isinstance(node.func, ast.Name) else None
        if function not in CONSTRUCTORS or function in self.names:  # a rebound name is no constructor
            raise self._refused(node, f"calling {ast.unparse(node.func)}()", "only dict(), list() and tuple() are read")
        if function == "dict":
            if node.args:
                raise self._refused(node, "dict() with positional arguments (write dict(key=value, ...))")
            result: dict[str, Any] = {}
            for keyword in node.keywords:
                if keyword.arg is None:  # dict(type='Normalize', **img_norm_cfg), common in MMCV configs
                    result.update(self._unpacked(keyword.value, (dict,)))
                else:
                    result[keyword.arg] = self.evaluate(keyword.value)
            return result
        if node.keywords or len(node.args) > 1 or any(isinstance(a, ast.Starred) for a in node.args):
            raise self._refused(node, f"{function}() with arguments other than one list or tuple")
        items = self.evaluate(node.args[0]) if node.args else []
        if not isinstance(items, (list, tuple)):
            raise self._refused(node, f"{function}() of a {type(items).__name__}")
        return list(items) if function == "list" else tuple(items)

    def _arithmetic(self, node: ast.BinOp) -> Any:
        left, right = self.evaluate(node.left), self.evaluate(node.right)
        joins = isinstance(node.op, ast.Add) and isinstance(left, _JOINABLE) and type(left) is type(right)
        if not joins and not (_is_number(left) and _is_number(right)):
            raise self._refused(node, f"{type(node.op).__name__} of {type(left).__name__} and "
                                      f"{type(right).__name__}", "arithmetic is on numbers; + also joins strings, "
                                                                 "lists and tuples")
        if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > MAX_INT_EXPONENT:
            raise self._refused(node, f"an exponent above {MAX_INT_EXPONENT}")
        try:
            return _ARITHMETIC[type(node.op)](left, right)
        except (ArithmeticError, ValueError) as error:
            raise ConfigParseError(self.path, node.lineno, f"{ast.unparse(node)}: {error}") from None

    def _refused(self, node: ast.AST, what: str, hint: str = "") -> ConfigParseError:
        source = ast.unparse(node) if isinstance(node, ast.expr) else ast.unparse(node).splitlines()[0]
        if len(source) > 80:
            source = source[:77] + "..."
        why = f"it is read as data, never run; {hint}" if hint else "it is read as data, never run"
        return ConfigParseError(self.path, getattr(node, "lineno", None),
                                f"{what} is not allowed in a config ({why}): {source}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_STATEMENT_KINDS: dict[type, str] = {
    ast.Import: "an import", ast.ImportFrom: "an import", ast.FunctionDef: "a function definition",
    ast.AsyncFunctionDef: "a function definition", ast.ClassDef: "a class definition", ast.If: "an if statement",
    ast.For: "a loop", ast.While: "a loop", ast.With: "a with statement", ast.Try: "a try statement",
    ast.Delete: "a del statement", ast.AugAssign: "an augmented assignment (+= and the like)",
    ast.Expr: "an expression that is not assigned to a name", ast.Global: "a global statement",
    ast.Raise: "a raise statement", ast.Assert: "an assert statement",
}
_EXPRESSION_KINDS: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.DictComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.IfExp: "a conditional expression", ast.Compare: "a comparison",
    ast.BoolOp: "and/or", ast.JoinedStr: "an f-string", ast.Set: "a set (or MMCV's {{ }} substitution)",
    ast.NamedExpr: "an assignment expression", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Starred: "unpacking with *", ast.UnaryOp: "this operator", ast.BinOp: "this operator",
}
