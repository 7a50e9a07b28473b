"""The expressions a config may hold, evaluated as data: nothing in them is ever run.

Known: literals, names assigned above, ``dict()`` / ``list()`` / ``tuple()`` and a few pure
builtins on data (``len``, ``min``, ``max``, ``range``, ...), ``*`` / ``**`` unpacking,
arithmetic, f-strings, indexing and slicing, comparisons, ``and`` / ``or`` / ``not``,
conditional expressions, comprehensions over known lists, ``dict`` keys read as attributes
(MMEngine's ConfigDict) and MMCV's ``{{_base_.key}}`` (or ``_base_.key``) references.

A name bound by an import, and whatever a call of it would return, is a marker
(``values.Imported`` / ``values.Unknown``): the settings holding one are reported, not
carried. Anything else that would run code is refused with the file and line: calls of
other functions, attribute access on anything but a dict or an imported name, lambdas,
comprehensions over unknown values, dunder names.
"""
from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyrun.convert.values import Imported, Unknown

BASE_NAME = "_base_"
CONSTRUCTORS = ("dict", "list", "tuple")
# builtins with no side effect on plain data: a config computes sizes and lrs with them
PURE_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float,
    "str": str, "bool": bool, "sum": sum, "sorted": sorted,
}
# a bigger exponent of an int could take hours (10 ** 10 ** 10): no config needs one
MAX_INT_EXPONENT = 10_000
MAX_ITEMS = 100_000  # range() and comprehensions: a config's lists are short

_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_SIGNS: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_CONVERSIONS = {ord("s"): str, ord("r"): repr, ord("a"): ascii}
# sequences may be joined with + (a base list extended); repeating them (* n) is refused
_JOINABLE = (str, list, tuple)
_PLAIN = (str, int, float, bool, type(None), list, tuple, dict)


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


class Evaluator:
    """Evaluates expressions against ``names``; ``base_value`` answers ``_base_.a.b``."""

    def __init__(self, path: Path, base_value: Callable[[str, ast.AST], Any]) -> None:
        self.path = path
        self.names: dict[str, Any] = {}
        self.read: set[str] = set()
        self.base_value = base_value

    def evaluate(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (bool, int, float, str)):
                return node.value
            raise self.refused(node, f"a {type(node.value).__name__} literal")
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
            return self._dict(node)
        if isinstance(node, ast.Set):
            return self._base_reference(node)
        handler = self._HANDLERS.get(type(node))
        if handler is not None:
            return handler(self, node)
        raise self.refused(node, _EXPRESSION_KINDS.get(type(node), "this expression"))

    # -- names and references ------------------------------------------------------------------
    def _name(self, node: ast.Name) -> Any:
        if node.id.startswith("__"):
            raise self.refused(node, f"the dunder name {node.id}")
        if node.id not in self.names:
            raise ConfigParseError(self.path, node.lineno, f"name {node.id!r} is not defined before this line (a "
                                                           f"config sees only names assigned above it in its file)")
        self.read.add(node.id)
        return self.names[node.id]

    def _base_reference(self, node: ast.Set) -> Any:
        """MMCV's ``{{_base_.a.b}}``: Python reads it as a set holding a set."""
        inner = node.elts[0] if len(node.elts) == 1 else None
        target = inner.elts[0] if isinstance(inner, ast.Set) and len(inner.elts) == 1 else None
        dotted = _base_path(target) if target is not None else None
        if dotted is None:
            raise self.refused(node, "a set (or a {{ }} substitution of anything but _base_.key)")
        return self.base_value(dotted, node)

    def _attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("__"):
            raise self.refused(node, f"the dunder attribute {node.attr}")
        dotted = _base_path(node)
        if dotted is not None:
            return self.base_value(dotted, node)  # MMEngine's _base_.key, without the braces
        owner = self.evaluate(node.value)
        if isinstance(owner, Imported):
            return Imported(f"{owner.path}.{node.attr}", owner.origin)
        if isinstance(owner, Unknown):
            return owner
        if isinstance(owner, dict):  # ConfigDict: keys read as attributes
            if node.attr not in owner:
                raise ConfigParseError(self.path, node.lineno, f"{ast.unparse(node)}: no key {node.attr!r}")
            return owner[node.attr]
        raise self.refused(node, f"attribute access on a {type(owner).__name__}")

    # -- containers ------------------------------------------------------------------------------
    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**base_dict, ...}
                result.update(self._unpacked(value, (dict,)))
            else:
                result[self._key(key)] = self.evaluate(value)
        return result

    def _key(self, node: ast.expr) -> Any:
        key = self.evaluate(node)
        if isinstance(key, (dict, list)):
            raise self.refused(node, "a dict or list as a dict key")
        return key

    def _unpacked(self, node: ast.expr, kinds: tuple[type, ...]) -> Any:
        value = self.evaluate(node)
        if isinstance(value, Unknown):
            raise self.refused(node, f"unpacking an unknown value ({value.origin})")
        if not isinstance(value, kinds):
            raise self.refused(node, f"unpacking a {type(value).__name__}")
        return value

    def _subscript(self, node: ast.Subscript) -> Any:
        owner = self.evaluate(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.evaluate(p) for p in (node.slice.lower, node.slice.upper,
                                                                        node.slice.step)]
            index: Any = slice(*parts)
            unknown = next((p for p in parts if isinstance(p, Unknown)), None)
        else:
            index = self.evaluate(node.slice)
            unknown = index if isinstance(index, Unknown) else None
        if isinstance(owner, (Unknown, Imported)) or unknown is not None:
            return _unknown_of(owner, unknown, self._where(node, f"indexing {ast.unparse(node)}"))
        if not isinstance(owner, (list, tuple, str, dict)):
            raise self.refused(node, f"indexing a {type(owner).__name__}")
        try:
            return owner[index]
        except (IndexError, KeyError, TypeError, ValueError) as error:
            raise ConfigParseError(self.path, node.lineno, f"{ast.unparse(node)}: {type(error).__name__}: "
                                                           f"{error}") from None

    def _comprehension(self, node: ast.ListComp | ast.DictComp) -> Any:
        saved = dict(self.names)
        results: list[Any] = []
        try:
            self._generate(node, list(node.generators), results)
        finally:
            self.names = saved
        return dict(results) if isinstance(node, ast.DictComp) else results

    def _generate(self, node: ast.ListComp | ast.DictComp, generators: list[ast.comprehension],
                  results: list[Any]) -> None:
        if not generators:
            if len(results) >= MAX_ITEMS:
                raise self.refused(node, f"a comprehension of more than {MAX_ITEMS} items")
            if isinstance(node, ast.DictComp):
                results.append((self._key(node.key), self.evaluate(node.value)))
            else:
                results.append(self.evaluate(node.elt))
            return
        first, rest = generators[0], generators[1:]
        items = self.evaluate(first.iter)
        if first.is_async or not isinstance(items, (list, tuple, str, dict)):
            what = f"unknown value ({items.origin})" if isinstance(items, Unknown) else type(items).__name__
            raise self.refused(node, f"a comprehension over a {what}")
        for item in list(items):
            self.bind(first.target, item)
            conditions = [self.evaluate(condition) for condition in first.ifs]
            if any(isinstance(c, Unknown) for c in conditions):
                raise self.refused(node, "a comprehension filtered by an unknown value")
            if all(conditions):
                self._generate(node, rest, results)

    def bind(self, target: ast.expr, value: Any) -> None:
        """Assign ``value`` to a name, or unpack it over a tuple of names."""
        if isinstance(target, ast.Name):
            if target.id.startswith("__"):
                raise self.refused(target, f"assigning the dunder name {target.id}")
            self.names[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (list, tuple)) \
                and len(target.elts) == len(value):
            for element, item in zip(target.elts, value):
                self.bind(element, item)
        else:
            raise self.refused(target, "assigning to anything but a name or a tuple of names")

    # -- operators -------------------------------------------------------------------------------
    def _unary(self, node: ast.UnaryOp) -> Any:
        operand = self.evaluate(node.operand)
        if isinstance(operand, (Unknown, Imported)):
            return _unknown_of(operand, None, self._where(node, ast.unparse(node)))
        if isinstance(node.op, ast.Not):
            return not operand
        if type(node.op) not in _SIGNS or not _is_number(operand):
            raise self.refused(node, f"{type(node.op).__name__} of a {type(operand).__name__}")
        return _SIGNS[type(node.op)](operand)

    def _arithmetic(self, node: ast.BinOp) -> Any:
        if type(node.op) not in _ARITHMETIC:
            raise self.refused(node, f"the operator {type(node.op).__name__}")
        left, right = self.evaluate(node.left), self.evaluate(node.right)
        if any(isinstance(v, (Unknown, Imported)) for v in (left, right)):
            return _unknown_of(left, right, self._where(node, ast.unparse(node)))
        joins = isinstance(node.op, ast.Add) and isinstance(left, _JOINABLE) and type(left) is type(right)
        if not joins and not (_is_number(left) and _is_number(right)):
            raise self.refused(node, f"{type(node.op).__name__} of {type(left).__name__} and "
                                     f"{type(right).__name__}", "arithmetic is on numbers; + also joins strings, "
                                                                "lists and tuples")
        if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > MAX_INT_EXPONENT:
            raise self.refused(node, f"an exponent above {MAX_INT_EXPONENT}")
        return self._guarded(node, _ARITHMETIC[type(node.op)], left, right)

    def _compare(self, node: ast.Compare) -> Any:
        left = self.evaluate(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.evaluate(right_node)
            if any(isinstance(v, (Unknown, Imported)) for v in (left, right)):
                return _unknown_of(left, right, self._where(node, ast.unparse(node)))
            if not self._guarded(node, _COMPARISONS[type(op)], left, right):
                return False
            left = right
        return True

    def _bool_op(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:  # short-circuits as Python does
            value = self.evaluate(operand)
            if isinstance(value, (Unknown, Imported)):
                return _unknown_of(value, None, self._where(node, ast.unparse(node)))
            if (not value) if isinstance(node.op, ast.And) else value:
                return value
        return value

    def _if_expression(self, node: ast.IfExp) -> Any:
        test = self.evaluate(node.test)
        if isinstance(test, (Unknown, Imported)):
            return _unknown_of(test, None, self._where(node, ast.unparse(node)))
        return self.evaluate(node.body if test else node.orelse)

    def _f_string(self, node: ast.JoinedStr) -> Any:
        pieces: list[str] = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                pieces.append(part.value)
                continue
            assert isinstance(part, ast.FormattedValue)
            value = self.evaluate(part.value)
            spec = self.evaluate(part.format_spec) if part.format_spec is not None else ""
            if isinstance(value, (Unknown, Imported)) or isinstance(spec, Unknown):
                return _unknown_of(value, spec, self._where(node, "an f-string"))
            if not isinstance(value, _PLAIN):
                raise self.refused(part, f"formatting a {type(value).__name__}")
            if part.conversion in _CONVERSIONS:
                value = _CONVERSIONS[part.conversion](value)
            pieces.append(self._guarded(part, format, value, spec))
        return "".join(pieces)

    def _guarded(self, node: ast.AST, function: Callable[..., Any], *args: Any) -> Any:
        try:
            return function(*args)
        except (ArithmeticError, ValueError, TypeError) as error:
            raise ConfigParseError(self.path, getattr(node, "lineno", None),
                                   f"{ast.unparse(node)}: {error}") from None

    # -- calls -----------------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> Any:
        function = node.func.id if isinstance(node.func, ast.Name) else None
        if function is not None and function not in self.names and (function in CONSTRUCTORS
                                                                     or function in PURE_BUILTINS
                                                                     or function == "range"):
            return self._builtin(node, function)
        callee = self.evaluate(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) \
            and (function is None or function in self.names) else None
        if isinstance(callee, (Imported, Unknown)):
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                self.evaluate(argument.value if isinstance(argument, ast.Starred) else argument)  # refuse code
            return Unknown(self._where(node, f"calling {ast.unparse(node.func)}()"))
        raise self.refused(node, f"calling {ast.unparse(node.func)}()",
                           "only dict(), list(), tuple(), a few pure builtins and imported names are read")

    def _builtin(self, node: ast.Call, function: str) -> Any:
        if function == "dict":
            if node.args:
                raise self.refused(node, "dict() with positional arguments (write dict(key=value, ...))")
            result: dict[str, Any] = {}
            for keyword in node.keywords:
                if keyword.arg is None:  # dict(type='Normalize', **img_norm_cfg), common in MMCV configs
                    result.update(self._unpacked(keyword.value, (dict,)))
                else:
                    result[keyword.arg] = self.evaluate(keyword.value)
            return result
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.refused(node, f"{function}() with keyword or unpacked arguments")
        args = [self.evaluate(a) for a in node.args]
        if any(isinstance(a, (Unknown, Imported)) for a in args):
            return _unknown_of(args[0], None, self._where(node, f"{function}() of an unknown value"))
        if function in CONSTRUCTORS:
            if len(args) > 1 or (args and not isinstance(args[0], (list, tuple))):
                raise self.refused(node, f"{function}() with arguments other than one list or tuple")
            return (list if function == "list" else tuple)(args[0] if args else [])
        if not all(isinstance(a, _PLAIN) for a in args):
            raise self.refused(node, f"{function}() of a non-data value")
        if function == "range":
            span = self._guarded(node, range, *args)
            if len(span) > MAX_ITEMS:
                raise self.refused(node, f"a range of more than {MAX_ITEMS} items")
            return list(span)
        return self._guarded(node, PURE_BUILTINS[function], *args)

    # -- errors ----------------------------------------------------------------------------------
    def _where(self, node: ast.AST, what: str) -> str:
        return f"{_as_given(self.path)}:{getattr(node, 'lineno', '?')}: {what}"

    def refused(self, node: ast.AST, what: str, hint: str = "") -> ConfigParseError:
        source = ast.unparse(node) if isinstance(node, ast.expr) else ast.unparse(node).splitlines()[0]
        if len(source) > 80:
            source = source[:77] + "..."
        why = f"it is read as data, never run; {hint}" if hint else "it is read as data, never run"
        return ConfigParseError(self.path, getattr(node, "lineno", None),
                                f"{what} is not allowed in a config ({why}): {source}")

    _HANDLERS: dict[type, Callable[[Evaluator, Any], Any]] = {
        ast.Attribute: _attribute, ast.Subscript: _subscript, ast.ListComp: _comprehension,
        ast.DictComp: _comprehension, ast.UnaryOp: _unary, ast.BinOp: _arithmetic, ast.Compare: _compare,
        ast.BoolOp: _bool_op, ast.IfExp: _if_expression, ast.JoinedStr: _f_string, ast.Call: _call,
    }


def _base_path(node: ast.expr) -> str | None:
    """``_base_.a.b`` as ``'a.b'``; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == BASE_NAME and parts:
        return ".".join(reversed(parts))
    return None


def _unknown_of(first: Any, second: Any, where: str) -> Unknown:
    """The result of an operation on an unknown value: it keeps the first origin."""
    for value in (first, second):
        if isinstance(value, Unknown):
            return value
        if isinstance(value, Imported):
            return Unknown(f"{where} (uses {value.path}, imported at {value.origin})")
    return Unknown(where)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_EXPRESSION_KINDS: dict[type, str] = {
    ast.Lambda: "a lambda", ast.SetComp: "a set comprehension", ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "an assignment expression", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Starred: "unpacking with *",
}
