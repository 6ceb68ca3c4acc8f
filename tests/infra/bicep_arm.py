# Copyright: (c) 2026, opskit maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare a Bicep file with its ARM JSON, and check ARM JSON structurally.

The Bicep side is parsed with pycep-parser (its Lark grammar keeps
identifiers and quoted strings apart, which its JSON output does not); the
ARM side with json plus a small parser of the ARM expression language
(``[func(args).prop]``). Both sides are then *evaluated* for one set of
parameter values, so that ``'${namePrefix}-api-${environment}'`` and
``[format('{0}-api-{1}', parameters('namePrefix'), parameters('environment'))]``
compare as the same string. Values only Azure knows at deployment time
(``reference()``, ``listKeys()``, a module's outputs) evaluate to symbolic
``Ref`` values that compare by what they point at.

Stand-ins (labelled): the subscription and resource group below are made up,
and ``uniqueString`` is a deterministic hash of its own, not Azure's
algorithm; both sides use the same one, so they compare equal exactly when
the templates call it with the same arguments.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lark.exceptions import LarkError
from pycep import BicepParser

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"  # stand-in
RESOURCE_GROUP = {
    "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/opskit-test-rg",
    "name": "opskit-test-rg",
    "location": "japaneast",
}  # stand-in
DEPLOYMENTS_TYPE = "Microsoft.Resources/deployments"
ARM_PARAM_TYPES = {"string", "securestring", "int", "bool", "object", "secureobject", "array"}
API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha)?$")
RESOURCE_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*(/[A-Za-z][A-Za-z0-9]*)+$")


class TemplateError(Exception):
    """An expression or template that cannot be parsed or evaluated."""


@dataclass(frozen=True)
class Ref:
    """A value known only at deployment time: reference()/listKeys() of a resource id."""

    kind: str
    target: str
    api_version: str
    path: tuple = ()

    def prop(self, name):
        return Ref(self.kind, self.target, self.api_version, self.path + (name,))

    def __str__(self):
        return f"<{self.kind} {self.target} @{self.api_version} .{'.'.join(self.path)}>"


# ---------------------------------------------------------------------------
# functions shared by both languages
# ---------------------------------------------------------------------------

def unique_string(*args):
    """Stand-in for ARM uniqueString(): 13 lowercase characters, deterministic."""
    digest = hashlib.sha256("|".join(str(a) for a in args).encode()).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) if c.isdigit() else c for c in digest[:13])


def resource_id(rtype, *names):
    segments = rtype.split("/")
    namespace, types = segments[0], segments[1:]
    if len(types) != len(names):
        raise TemplateError(f"resourceId({rtype!r}) needs {len(types)} names, got {len(names)}: {names}")
    path = "/".join(f"{t}/{n}" for t, n in zip(types, names))
    return f"{RESOURCE_GROUP['id']}/providers/{namespace}/{path}"


def arm_format(fmt, *args):
    def render(v):
        if isinstance(v, bool):
            return "True" if v else "False"
        return str(v)

    out, i = [], 0
    while i < len(fmt):
        c = fmt[i]
        if c == "{" and fmt.startswith("{{", i):
            out.append("{")
            i += 2
        elif c == "}" and fmt.startswith("}}", i):
            out.append("}")
            i += 2
        elif c == "{":
            end = fmt.index("}", i)
            out.append(render(args[int(fmt[i + 1:end])]))
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def to_string(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _take(v, n):
    return v[:n]


def _union(*objs):
    if all(isinstance(o, dict) for o in objs):
        merged = {}
        for o in objs:
            merged.update(o)
        return merged
    merged = []
    for o in objs:
        merged.extend(x for x in o if x not in merged)
    return merged


def _json(text):
    return json.loads(text)


def _div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


COMMON_FUNCTIONS = {
    "uniquestring": unique_string,
    "resourceid": resource_id,
    "format": arm_format,
    "string": to_string,
    "tolower": lambda s: s.lower(),
    "toupper": lambda s: s.upper(),
    "take": _take,
    "empty": lambda v: v is None or len(v) == 0,
    "union": _union,
    "json": _json,
    "resourcegroup": lambda: dict(RESOURCE_GROUP),
    "concat": lambda *a: "".join(map(str, a)) if all(isinstance(x, str) for x in a) else sum((list(x) for x in a), []),
    "length": len,
    "guid": lambda *a: unique_string("guid", *a),
}


# ---------------------------------------------------------------------------
# ARM expression language
# ---------------------------------------------------------------------------

_ARM_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[().,\[\]]))")


def _arm_tokens(text):
    pos, tokens = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _ARM_TOKEN.match(text, pos)
        if not m:
            raise TemplateError(f"unexpected character at {pos} in ARM expression: {text!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "num":
            value = int(value)
        tokens.append((kind, value))
        pos = m.end()
    return tokens


def parse_arm_expression(text):
    """Parse the inside of ``[...]`` into a tree: ('call', name, args, accessors) etc."""
    tokens = _arm_tokens(text)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else (None, None)

    def expect(sym):
        nonlocal pos
        if peek() != ("sym", sym):
            raise TemplateError(f"expected {sym!r} at token {pos} in ARM expression: {text!r}")
        pos += 1

    def expr():
        nonlocal pos
        kind, value = peek()
        if kind == "str":
            pos += 1
            node = ("lit", value)
        elif kind == "num":
            pos += 1
            node = ("lit", value)
        elif kind == "name":
            pos += 1
            expect("(")
            args = []
            if peek() != ("sym", ")"):
                args.append(expr())
                while peek() == ("sym", ","):
                    pos += 1
                    args.append(expr())
            expect(")")
            node = ("call", value, args)
        else:
            raise TemplateError(f"unexpected token {value!r} in ARM expression: {text!r}")
        while peek() in (("sym", "."), ("sym", "[")):
            if peek() == ("sym", "."):
                pos += 1
                kind, value = peek()
                if kind != "name":
                    raise TemplateError(f"expected a property name after '.' in ARM expression: {text!r}")
                pos += 1
                node = ("prop", node, ("lit", value))
            else:
                pos += 1
                index = expr()
                expect("]")
                node = ("prop", node, index)
        return node

    tree = expr()
    if pos != len(tokens):
        raise TemplateError(f"trailing tokens in ARM expression: {text!r}")
    return tree


def is_arm_expression(value):
    return isinstance(value, str) and value.startswith("[") and not value.startswith("[[") and value.endswith("]")


class ArmEvaluator:
    """Evaluates one ARM template for given parameter values."""

    def __init__(self, template, param_values):
        self.template = template
        self.params = {}
        self._vars = {}
        self._resolving = set()
        declared = template.get("parameters", {})
        for name, spec in declared.items():
            if name in param_values:
                self.params[name] = param_values[name]
            elif "defaultValue" in spec:
                self.params[name] = self.value(spec["defaultValue"])
            else:
                raise TemplateError(f"parameter {name!r} has no value and no default")
        unknown = set(param_values) - set(declared)
        if unknown:
            raise TemplateError(f"values given for undeclared parameters: {sorted(unknown)}")

    def variable(self, name):
        if name not in self._vars:
            if name not in self.template.get("variables", {}):
                raise TemplateError(f"variables({name!r}) is not declared")
            if name in self._resolving:
                raise TemplateError(f"variable {name!r} refers to itself")
            self._resolving.add(name)
            self._vars[name] = self.value(self.template["variables"][name])
            self._resolving.discard(name)
        return self._vars[name]

    def value(self, v):
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, str):
            if v.startswith("[["):
                return v[1:]
            if is_arm_expression(v):
                return self.eval(parse_arm_expression(v[1:-1]))
        return v

    def eval(self, node):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "prop":
            base = self.eval(node[1])
            key = self.eval(node[2])
            if isinstance(base, Ref):
                return base.prop(key)
            try:
                return base[key]
            except (KeyError, IndexError, TypeError) as exc:
                raise TemplateError(f"no property {key!r} in {base!r}") from exc
        name, args = node[1].lower(), node[2]
        if name == "if":
            return self.eval(args[1]) if self.eval(args[0]) else self.eval(args[2])
        values = [self.eval(a) for a in args]
        if name == "parameters":
            if values[0] not in self.params:
                raise TemplateError(f"parameters({values[0]!r}) is not declared")
            return self.params[values[0]]
        if name == "variables":
            return self.variable(values[0])
        if name == "reference":
            return Ref("reference", values[0], values[1] if len(values) > 1 else "")
        if name.startswith("list"):
            return Ref(node[1], values[0], values[1] if len(values) > 1 else "")
        if name == "createarray":
            return list(values)
        if name == "createobject":
            return {values[i]: values[i + 1] for i in range(0, len(values), 2)}
        if name == "true":
            return True
        if name == "false":
            return False
        if name == "equals":
            return values[0] == values[1]
        if name == "not":
            return not values[0]
        if name == "and":
            return all(values)
        if name == "or":
            return any(values)
        if name == "mul":
            return values[0] * values[1]
        if name == "div":
            return _div(values[0], values[1])
        if name == "add":
            return values[0] + values[1]
        if name == "sub":
            return values[0] - values[1]
        if name in COMMON_FUNCTIONS:
            return COMMON_FUNCTIONS[name](*values)
        raise TemplateError(f"ARM function {node[1]!r} is not supported by this checker")


# ---------------------------------------------------------------------------
# Bicep
# ---------------------------------------------------------------------------

_PARSER = None


def _parser():
    global _PARSER
    if _PARSER is None:
        _PARSER = BicepParser()
    return _PARSER


def _tok(node):
    """The Token of a leaf tree like Tree('string', [Token])."""
    return node.children[0]


def _unquote(raw):
    """Body of a quoted Bicep string literal, escapes kept (interpolation is split later)."""
    if raw.startswith("'''"):
        return raw[3:-3]
    return raw[1:-1]


_ESCAPES = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


def _split_interpolation(body):
    """Split a Bicep string body into literal text and ${...} expression sources."""
    parts, buf, i = [], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            buf.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif body.startswith("${", i):
            depth, j, in_str = 1, i + 2, False
            while depth:
                if j >= len(body):
                    raise TemplateError(f"unbalanced ${{...}} in Bicep string: {body!r}")
                ch = body[j]
                if in_str:
                    if ch == "\\":
                        j += 1
                    elif ch == "'":
                        in_str = False
                elif ch == "'":
                    in_str = True
                elif ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                j += 1
            if buf:
                parts.append(("text", "".join(buf)))
                buf = []
            parts.append(("expr", body[i + 2:j - 1]))
            i = j
        else:
            buf.append(c)
            i += 1
    if buf:
        parts.append(("text", "".join(buf)))
    return parts


def _parse_bicep_expression(source):
    """Parse one Bicep expression with pycep's grammar (as the value of a variable)."""
    tree = _parser().lark_parser.parse(f"var __expr = {source}\n")
    element = tree.children[0]
    return element.children[-1]


@dataclass
class BicepSymbol:
    kind: str  # resource | module
    name: str
    rtype: str = ""
    api_version: str = ""
    existing: bool = False
    body: dict = field(default_factory=dict)  # key -> tree node
    decorators: list = field(default_factory=list)
    path: str = ""


@dataclass
class BicepFile:
    path: Path
    params: dict  # name -> {"type", "decorators": {name: node}, "default": node|None}
    variables: dict  # name -> node
    symbols: dict  # symbolic name -> BicepSymbol
    outputs: dict  # name -> {"type", "value": node}
    target_scope: str
    pycep_json: dict


def _decorators(node):
    result = {}
    if node is None:
        return result
    for dec in node.children:
        name = str(dec.children[0])
        result[name] = dec.children[1] if len(dec.children) > 1 else None
    return result


def _data_type(node):
    base = node.children[0]
    text = str(base.children[0])
    suffix = "[]" * (len(node.children) - 1)
    return text + suffix


def _object_pairs(obj_node):
    pairs = {}
    for pair in obj_node.children:
        if pair.data != "pair":
            raise TemplateError(f"unsupported object member {pair.data!r} in {obj_node!r}")
        key_tok = pair.children[0].children[0]
        key = str(key_tok)
        if key_tok.type in ("QUOTED_INTERPOLATION", "QUOTED_STRING"):
            key = _unquote(key)
        pairs[key] = pair.children[1]
    return pairs


def load_bicep(path, text=None):
    """Parse a .bicep file (or the given text as that file) with pycep-parser."""
    path = Path(path)
    if text is None:
        text = path.read_text()
    try:
        pycep_json = _parser().parse(text=text)  # validates and gives decorators/types
        tree = _parser().lark_parser.parse(text)
    except (ValueError, LarkError) as exc:
        raise TemplateError(f"{path}: not valid Bicep: {exc}") from exc
    params, variables, symbols, outputs = {}, {}, {}, {}
    target_scope = "resourceGroup"
    for el in tree.children:
        kind = el.data
        if kind == "scope":
            target_scope = _unquote(str(el.children[0]))
        elif kind == "param":
            decorators, name, dtype, default = el.children
            params[str(name)] = {"type": _data_type(dtype), "decorators": _decorators(decorators), "default": default}
        elif kind == "var":
            variables[str(el.children[1])] = el.children[-1]
        elif kind == "output":
            decorators, name, dtype, value = el.children
            outputs[str(name)] = {"type": _data_type(dtype), "value": value, "decorators": _decorators(decorators)}
        elif kind == "resource":
            decorators, name, type_api, existing, body = el.children
            rtype, api = _unquote(str(type_api.children[0])).split("@")
            if body.data != "object":
                raise TemplateError(f"resource {name}: only plain object bodies are supported (no loops or conditions)")
            symbols[str(name)] = BicepSymbol("resource", str(name), rtype, api, existing is not None,
                                             _object_pairs(body), list(_decorators(decorators)))
        elif kind == "module":
            decorators, name, mpath, body = el.children
            if body.data != "object":
                raise TemplateError(f"module {name}: only plain object bodies are supported")
            symbols[str(name)] = BicepSymbol("module", str(name), body=_object_pairs(body),
                                             path=_unquote(str(mpath.children[0])))
        else:
            raise TemplateError(f"{path}: unsupported Bicep element {kind!r}")
    # pycep's own reading of the file must agree with the tree walk above
    pycep_resources = {k: (v["type"], v["api_version"], v["existing"])
                       for k, v in pycep_json.get("resources", {}).items()}
    walked = {k: (v.rtype, v.api_version, v.existing) for k, v in symbols.items() if v.kind == "resource"}
    if pycep_resources != walked or set(pycep_json.get("modules", {})) != {
            k for k, v in symbols.items() if v.kind == "module"} or set(pycep_json.get("parameters", {})) != set(params) \
            or set(pycep_json.get("outputs", {})) != set(outputs):
        raise TemplateError(f"{path}: pycep's parse and the syntax tree disagree")
    return BicepFile(path, params, variables, symbols, outputs, target_scope, pycep_json)


class BicepEvaluator:
    """Evaluates one parsed Bicep file for given parameter values."""

    def __init__(self, bicep, param_values):
        self.bicep = bicep
        self.params = {}
        self._vars = {}
        self._resolving = set()
        for name, spec in bicep.params.items():
            if name in param_values:
                self.params[name] = param_values[name]
            elif spec["default"] is not None:
                self.params[name] = self.eval(spec["default"])
            else:
                raise TemplateError(f"parameter {name!r} has no value and no default")
        unknown = set(param_values) - set(bicep.params)
        if unknown:
            raise TemplateError(f"values given for undeclared parameters: {sorted(unknown)}")

    # --- symbols -----------------------------------------------------------
    def symbol_names(self, sym):
        """Name segments of a resource (its parents' names first)."""
        own = self.eval(sym.body["name"])
        if "parent" in sym.body:
            parent = self.bicep.symbols[str(_tok(sym.body["parent"]))]
            return self.symbol_names(parent) + [own]
        return [own]

    def symbol_id(self, sym):
        if sym.kind == "module":
            return resource_id(DEPLOYMENTS_TYPE, self.eval(sym.body["name"]))
        return resource_id(sym.rtype, *self.symbol_names(sym))

    def full_name(self, sym):
        return "/".join(self.symbol_names(sym))

    def referenced_symbols(self, node, found=None):
        """Resource/module symbols (not `existing`) a tree refers to, interpolations included."""
        found = set() if found is None else found
        if hasattr(node, "data"):
            if node.data in ("string", "multi_line_string"):
                tok = _tok(node)
                if tok.type == "STRING":
                    sym = self.bicep.symbols.get(str(tok))
                    if sym is not None and not sym.existing:
                        found.add(sym.name)
                else:
                    for kind, src in _split_interpolation(_unquote(str(tok))):
                        if kind == "expr":
                            self.referenced_symbols(_parse_bicep_expression(src), found)
                return found
            for child in node.children:
                self.referenced_symbols(child, found)
        return found

    # --- values ------------------------------------------------------------
    def variable(self, name):
        if name not in self._vars:
            if name in self._resolving:
                raise TemplateError(f"variable {name!r} refers to itself")
            self._resolving.add(name)
            self._vars[name] = self.eval(self.bicep.variables[name])
            self._resolving.discard(name)
        return self._vars[name]

    def identifier(self, name):
        if name in self.params:
            return self.params[name]
        if name in self.bicep.variables:
            return self.variable(name)
        if name in self.bicep.symbols:
            return self.bicep.symbols[name]
        raise TemplateError(f"{self.bicep.path}: unknown identifier {name!r}")

    def access(self, base, prop):
        if isinstance(base, BicepSymbol):
            if base.kind == "module":
                if prop != "outputs":
                    raise TemplateError(f"module {base.name}: only .outputs is supported, not .{prop}")
                return Ref("reference", self.symbol_id(base), "2022-09-01", ("outputs",))
            if prop == "id":
                return self.symbol_id(base)
            if prop == "name":
                return self.eval(base.body["name"])
            if prop == "properties":
                return Ref("reference", self.symbol_id(base), base.api_version)
            raise TemplateError(f"resource {base.name}: property .{prop} is not supported by this checker")
        if isinstance(base, Ref):
            if base.path[:1] == ("outputs",) and len(base.path) == 1:
                return Ref(base.kind, base.target, base.api_version, ("outputs", prop, "value"))
            return base.prop(prop)
        try:
            return base[prop]
        except (KeyError, IndexError, TypeError) as exc:
            raise TemplateError(f"no property {prop!r} in {base!r}") from exc

    def _chain(self, node):
        """Flatten pycep's right-nested property accessors into [base, name, name, ...]."""
        if node.data == "operator":
            node = node.children[0]
        if node.data == "property_accessor":
            left, right = node.children
            return [left] + self._chain(right)
        return [node]

    def eval(self, node):
        data = node.data
        if data == "operator":
            return self.eval(node.children[0])
        if data == "string":
            tok = _tok(node)
            if tok.type == "STRING":
                return self.identifier(str(tok))
            return self.string(_unquote(str(tok)))
        if data == "multi_line_string":
            return _unquote(str(_tok(node)))
        if data == "int_type":
            return int(_tok(node))
        if data == "true":
            return True
        if data == "false":
            return False
        if data == "null":
            return None
        if data == "array":
            return [self.eval(c) for c in node.children]
        if data == "object":
            return {k: self.eval(v) for k, v in _object_pairs(node).items()}
        if data == "property_accessor":
            chain = self._chain(node)
            value = self.eval(chain[0])
            for seg in chain[1:]:
                if seg.data != "string" or _tok(seg).type != "STRING":
                    raise TemplateError(f"unsupported property access segment {seg!r}")
                value = self.access(value, str(_tok(seg)))
            return value
        if data == "function_accessor":
            base = self.eval(node.children[0])
            func = str(node.children[1])
            if not isinstance(base, BicepSymbol) or base.kind != "resource":
                raise TemplateError(f"{func}() on a non-resource {base!r}")
            return Ref(func, self.symbol_id(base), base.api_version)
        if data == "function":
            name = str(node.children[0])[:-1]
            args = [self.eval(c) for c in node.children[1:] if c is not None]
            if name.lower() in COMMON_FUNCTIONS:
                return COMMON_FUNCTIONS[name.lower()](*args)
            raise TemplateError(f"Bicep function {name!r} is not supported by this checker")
        if data == "conditional":
            cond, yes, no = node.children
            return self.eval(yes) if self.eval(cond) else self.eval(no)
        binary = {
            "equals": lambda a, b: a == b,
            "not_equals": lambda a, b: a != b,
            "and_op": lambda a, b: a and b,
            "or_op": lambda a, b: a or b,
            "multiply": lambda a, b: a * b,
            "divide": _div,
            "add": lambda a, b: a + b,
            "substract": lambda a, b: a - b,
        }
        if data in binary:
            return binary[data](self.eval(node.children[0]), self.eval(node.children[1]))
        if data == "not_op":
            return not self.eval(node.children[0])
        raise TemplateError(f"Bicep construct {data!r} is not supported by this checker")

    def string(self, body):
        out = []
        for kind, part in _split_interpolation(body):
            if kind == "text":
                out.append(part)
            else:
                value = self.eval(_parse_bicep_expression(part))
                if isinstance(value, Ref):
                    raise TemplateError(f"interpolating a deployment-time value {value} is not supported")
                out.append(to_string(value))
        return "".join(out)


# ---------------------------------------------------------------------------
# agreement
# ---------------------------------------------------------------------------

BICEP_TO_ARM_TYPE = {"string": "string", "int": "int", "bool": "bool", "object": "object", "array": "array"}
RESOURCE_META_KEYS = {"type", "apiVersion", "name", "dependsOn", "metadata", "comments"}
BICEP_META_KEYS = {"name", "parent", "dependsOn"}
DECORATOR_TO_ARM = {"minLength": "minLength", "maxLength": "maxLength", "minValue": "minValue", "maxValue": "maxValue"}


def _norm(v):
    """Values comparable across both sides (Refs as strings, json floats kept)."""
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, Ref):
        return str(v)
    return v


def _diff(where, a, b, out):
    """Append readable differences between Bicep value a and ARM value b."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"{where}.{k}: only in Bicep ({a[k]!r})")
            elif k not in a:
                out.append(f"{where}.{k}: only in ARM ({b[k]!r})")
            else:
                _diff(f"{where}.{k}", a[k], b[k], out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(f"{where}[{i}]", x, y, out)
    elif a != b or type(a) is not type(b):
        out.append(f"{where}: Bicep {a!r} != ARM {b!r}")


def compare(bicep, arm, param_values, template_dir=None, label=None):
    """Every difference between a parsed Bicep file and its ARM template, for these parameter values.

    Modules are followed: each module's Bicep file is compared with the
    nested template of its deployment, for the parameter values passed to it,
    and the nested template must equal the module's own .json beside it.
    """
    label = label or bicep.path.name
    diffs = []
    template_dir = Path(template_dir or bicep.path.parent)
    try:
        bev = BicepEvaluator(bicep, param_values)
        aev = ArmEvaluator(arm, param_values)
    except TemplateError as exc:
        return [f"{label}: {exc}"]

    if arm.get("$schema", "").rsplit("/", 1)[-1] != "deploymentTemplate.json#" and bicep.target_scope == "resourceGroup":
        diffs.append(f"{label}: $schema is not the resource group deployment template schema")

    # parameters
    bparams, aparams = bicep.params, arm.get("parameters", {})
    for name in sorted(set(bparams) | set(aparams)):
        where = f"{label}: parameter {name}"
        if name not in aparams:
            diffs.append(f"{where}: only in Bicep")
            continue
        if name not in bparams:
            diffs.append(f"{where}: only in ARM")
            continue
        b, a = bparams[name], aparams[name]
        btype = BICEP_TO_ARM_TYPE.get(b["type"], b["type"])
        if "secure" in b["decorators"]:
            btype = "secure" + btype
        if btype != a.get("type"):
            diffs.append(f"{where}: type Bicep {btype!r} != ARM {a.get('type')!r}")
        decs = b["decorators"]
        ballowed = bev.eval(decs["allowed"]) if "allowed" in decs else None
        if ballowed != a.get("allowedValues"):
            diffs.append(f"{where}: allowed values Bicep {ballowed!r} != ARM {a.get('allowedValues')!r}")
        for dec, key in DECORATOR_TO_ARM.items():
            bval = bev.eval(decs[dec]) if dec in decs else None
            if bval != a.get(key):
                diffs.append(f"{where}: {key} Bicep {bval!r} != ARM {a.get(key)!r}")
        bdesc = bev.eval(decs["description"]) if "description" in decs else None
        if bdesc != a.get("metadata", {}).get("description"):
            diffs.append(f"{where}: description differs")
        bdefault = bev.eval(b["default"]) if b["default"] is not None else None
        adefault = aev.value(a["defaultValue"]) if "defaultValue" in a else None
        if ("defaultValue" in a) != (b["default"] is not None):
            diffs.append(f"{where}: default only on one side (Bicep {bdefault!r}, ARM {adefault!r})")
        elif _norm(bdefault) != _norm(adefault):
            diffs.append(f"{where}: default Bicep {bdefault!r} != ARM {adefault!r}")

    # variables
    avars = arm.get("variables", {})
    for name in sorted(set(bicep.variables) | set(avars)):
        where = f"{label}: variable {name}"
        if name not in avars:
            diffs.append(f"{where}: only in Bicep")
        elif name not in bicep.variables:
            diffs.append(f"{where}: only in ARM")
        else:
            try:
                _diff(where, _norm(bev.variable(name)), _norm(aev.variable(name)), diffs)
            except TemplateError as exc:
                diffs.append(f"{where}: {exc}")

    # resources and modules
    arm_resources = {}
    for res in arm.get("resources", []):
        try:
            key = (res["type"], aev.value(res["name"]))
        except (KeyError, TemplateError) as exc:
            diffs.append(f"{label}: ARM resource {res.get('type')}: {exc}")
            continue
        if key in arm_resources:
            diffs.append(f"{label}: ARM resource {key} declared twice")
        arm_resources[key] = res
    seen = set()
    for sym in bicep.symbols.values():
        if sym.existing:
            continue
        try:
            if sym.kind == "module":
                key = (DEPLOYMENTS_TYPE, bev.eval(sym.body["name"]))
            else:
                key = (sym.rtype, bev.full_name(sym))
        except TemplateError as exc:
            diffs.append(f"{label}: {sym.kind} {sym.name}: {exc}")
            continue
        where = f"{label}: {sym.kind} {sym.name} ({key[0]} {key[1]})"
        res = arm_resources.get(key)
        if res is None:
            diffs.append(f"{where}: no ARM resource of that type and name")
            continue
        seen.add(key)
        try:
            # dependsOn: explicit ones, the parent, and every symbol the body refers to
            deps = set()
            for dep_node in ([] if "dependsOn" not in sym.body else sym.body["dependsOn"].children):
                deps.add(str(_tok(dep_node)))
            if "parent" in sym.body:
                deps.add(str(_tok(sym.body["parent"])))
            for k, v in sym.body.items():
                if k not in ("dependsOn", "parent"):
                    bev.referenced_symbols(v, deps)
            deps.discard(sym.name)
            bdeps = sorted(bev.symbol_id(bicep.symbols[d]) for d in deps)
            adeps = sorted(aev.value(d) for d in res.get("dependsOn", []))
            if bdeps != adeps:
                diffs.append(f"{where}: dependsOn Bicep {bdeps} != ARM {adeps}")
            if sym.kind == "module":
                diffs.extend(_compare_module(bev, aev, sym, res, template_dir, where))
            else:
                if sym.api_version != res.get("apiVersion"):
                    diffs.append(f"{where}: apiVersion Bicep {sym.api_version} != ARM {res.get('apiVersion')}")
                bbody = {k: bev.eval(v) for k, v in sym.body.items() if k not in BICEP_META_KEYS}
                abody = {k: aev.value(v) for k, v in res.items() if k not in RESOURCE_META_KEYS}
                _diff(where, _norm(bbody), _norm(abody), diffs)
        except TemplateError as exc:
            diffs.append(f"{where}: {exc}")
    for key in sorted(set(arm_resources) - seen):
        diffs.append(f"{label}: ARM resource {key[0]} {key[1]}: not in the Bicep file")

    # outputs
    aouts = arm.get("outputs", {})
    for name in sorted(set(bicep.outputs) | set(aouts)):
        where = f"{label}: output {name}"
        if name not in aouts:
            diffs.append(f"{where}: only in Bicep")
            continue
        if name not in bicep.outputs:
            diffs.append(f"{where}: only in ARM")
            continue
        b, a = bicep.outputs[name], aouts[name]
        if BICEP_TO_ARM_TYPE.get(b["type"], b["type"]) != a.get("type"):
            diffs.append(f"{where}: type Bicep {b['type']!r} != ARM {a.get('type')!r}")
        try:
            _diff(where, _norm(bev.eval(b["value"])), _norm(aev.value(a.get("value"))), diffs)
        except TemplateError as exc:
            diffs.append(f"{where}: {exc}")
    return diffs


def _compare_module(bev, aev, sym, res, template_dir, where):
    diffs = []
    props = res.get("properties", {})
    if props.get("mode") != "Incremental":
        diffs.append(f"{where}: deployment mode is {props.get('mode')!r}, not Incremental")
    if props.get("expressionEvaluationOptions", {}).get("scope") != "inner":
        diffs.append(f"{where}: nested template must use expressionEvaluationOptions.scope inner")
    bparams = {k: bev.eval(v) for k, v in _object_pairs(sym.body["params"]).items()} if "params" in sym.body else {}
    aparams = {k: aev.value(v.get("value")) for k, v in props.get("parameters", {}).items()}
    _diff(f"{where} params", _norm(bparams), _norm(aparams), diffs)
    module_bicep = template_dir / sym.path
    module_json = module_bicep.with_suffix(".json")
    nested = props.get("template")
    if not module_json.exists():
        diffs.append(f"{where}: {module_json.name} (the module's ARM JSON) is missing")
    elif json.loads(module_json.read_text()) != nested:
        diffs.append(f"{where}: the nested template differs from {sym.path[:-6]}.json")
    if nested is not None and not any(isinstance(v, Ref) for v in bparams.values()):
        diffs.extend(compare(load_bicep(module_bicep), nested, bparams, module_bicep.parent, f"{sym.path}"))
    return diffs


def compare_arm(built, committed, param_values, label="main.json"):
    """Differences between two ARM templates (e.g. `bicep build` output and the committed JSON).

    Compared after evaluation, so format() and concat() spellings of one name
    agree; generator metadata and the API version bicep picks for its module
    deployments are ignored.
    """
    diffs = []
    try:
        bev, cev = ArmEvaluator(built, param_values), ArmEvaluator(committed, param_values)
    except TemplateError as exc:
        return [f"{label}: {exc}"]
    bparams, cparams = built.get("parameters", {}), committed.get("parameters", {})
    for name in sorted(set(bparams) | set(cparams)):
        if name not in bparams or name not in cparams:
            diffs.append(f"{label}: parameter {name} only in {'committed' if name in cparams else 'built'}")
            continue
        b = {k: v for k, v in bparams[name].items() if k != "defaultValue"}
        c = {k: v for k, v in cparams[name].items() if k != "defaultValue"}
        _diff(f"{label}: parameter {name}", b, c, diffs)
        _diff(f"{label}: parameter {name} default", _norm(bev.params[name]), _norm(cev.params[name]), diffs)

    def index(ev, template):
        return {(r["type"], ev.value(r["name"])): r for r in template.get("resources", [])}

    bres, cres = index(bev, built), index(cev, committed)
    for key in sorted(set(bres) | set(cres)):
        where = f"{label}: resource {key[0]} {key[1]}"
        if key not in bres or key not in cres:
            diffs.append(f"{where}: only in {'committed' if key in cres else 'built'}")
            continue
        b, c = bres[key], cres[key]
        if key[0] != DEPLOYMENTS_TYPE and b.get("apiVersion") != c.get("apiVersion"):
            diffs.append(f"{where}: apiVersion {b.get('apiVersion')} != {c.get('apiVersion')}")
        _diff(f"{where} dependsOn", sorted(bev.value(d) for d in b.get("dependsOn", [])),
              sorted(cev.value(d) for d in c.get("dependsOn", [])), diffs)
        if key[0] == DEPLOYMENTS_TYPE:
            bp, cp = b.get("properties", {}), c.get("properties", {})
            bvals = {k: bev.value(v.get("value")) for k, v in bp.get("parameters", {}).items()}
            cvals = {k: cev.value(v.get("value")) for k, v in cp.get("parameters", {}).items()}
            _diff(f"{where} parameters", _norm(bvals), _norm(cvals), diffs)
            if not diffs:
                diffs.extend(compare_arm(bp.get("template", {}), cp.get("template", {}), cvals, f"{label} > {key[1]}"))
            continue
        bbody = {k: bev.value(v) for k, v in b.items() if k not in RESOURCE_META_KEYS}
        cbody = {k: cev.value(v) for k, v in c.items() if k not in RESOURCE_META_KEYS}
        _diff(where, _norm(bbody), _norm(cbody), diffs)
    bouts, couts = built.get("outputs", {}), committed.get("outputs", {})
    for name in sorted(set(bouts) | set(couts)):
        if name not in bouts or name not in couts:
            diffs.append(f"{label}: output {name} only in {'committed' if name in couts else 'built'}")
            continue
        _diff(f"{label}: output {name}", _norm(bev.value(bouts[name]["value"])), _norm(cev.value(couts[name]["value"])), diffs)
    return diffs


def compare_files(bicep_path, json_path, param_values, bicep_text=None, arm_template=None):
    bicep = load_bicep(bicep_path, bicep_text)
    arm = arm_template if arm_template is not None else json.loads(Path(json_path).read_text())
    return compare(bicep, arm, param_values)


# ---------------------------------------------------------------------------
# structural checks of ARM JSON (offline, schema-level; not Azure's validation)
# ---------------------------------------------------------------------------

TOP_LEVEL_REQUIRED = {"$schema", "contentVersion", "resources"}
TOP_LEVEL_ALLOWED = TOP_LEVEL_REQUIRED | {"metadata", "parameters", "variables", "functions", "outputs",
                                          "apiProfile", "definitions", "languageVersion"}
_ARM_VALUE_TYPES = {"string": str, "securestring": str, "int": int, "bool": bool,
                    "object": dict, "secureobject": dict, "array": list}


def _walk_strings(value, where):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, f"{where}[{i}]")
    elif isinstance(value, str):
        yield where, value


def _calls(node, found):
    if node[0] == "call":
        found.append((node[1].lower(), node[2]))
        for a in node[2]:
            _calls(a, found)
    elif node[0] == "prop":
        _calls(node[1], found)
        _calls(node[2], found)
    return found


SECRET_WORDS = ("connectionstring", "key", "password", "secret", "token")


def _secret_refs(value):
    """Deployment-time values that are secrets: list*() results, keys, connection strings."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secret_refs(v)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_refs(v)]
    if isinstance(value, Ref) and (value.kind.lower().startswith("list")
                                   or any(w in p.lower() for p in value.path for w in SECRET_WORDS)):
        return [str(value)]
    return []


def validate_template(template, label="template", param_values=None):
    """Structural problems of one ARM template (and its nested templates)."""
    problems = []
    keys = set(template)
    for k in sorted(TOP_LEVEL_REQUIRED - keys):
        problems.append(f"{label}: top-level key {k!r} is missing")
    for k in sorted(keys - TOP_LEVEL_ALLOWED):
        problems.append(f"{label}: unknown top-level key {k!r}")
    if template.get("contentVersion") and not re.match(r"^\d+\.\d+\.\d+\.\d+$", template["contentVersion"]):
        problems.append(f"{label}: contentVersion {template['contentVersion']!r} is not n.n.n.n")
    params = template.get("parameters", {})
    variables = template.get("variables", {})
    for name, spec in params.items():
        ptype = spec.get("type")
        if ptype not in ARM_PARAM_TYPES:
            problems.append(f"{label}: parameter {name}: type {ptype!r} is not an ARM type")
            continue
        default = spec.get("defaultValue")
        if default is not None and not is_arm_expression(default) and not isinstance(default, _ARM_VALUE_TYPES[ptype]):
            problems.append(f"{label}: parameter {name}: default {default!r} is not of type {ptype}")
        for allowed in spec.get("allowedValues", []):
            if not isinstance(allowed, _ARM_VALUE_TYPES[ptype]):
                problems.append(f"{label}: parameter {name}: allowed value {allowed!r} is not of type {ptype}")
        if default is not None and "allowedValues" in spec and not is_arm_expression(default) \
                and default not in spec["allowedValues"]:
            problems.append(f"{label}: parameter {name}: default {default!r} is not an allowed value")

    # every expression parses and names declared parameters/variables
    def check_expressions(value, where, scope_params, scope_vars):
        for w, s in _walk_strings(value, where):
            if not (s.startswith("[") and not s.startswith("[[")):
                continue
            if not s.endswith("]"):
                problems.append(f"{label}: {w}: expression {s!r} does not end with ']'")
                continue
            try:
                tree = parse_arm_expression(s[1:-1])
            except TemplateError as exc:
                problems.append(f"{label}: {w}: {exc}")
                continue
            for fname, args in _calls(tree, []):
                if fname in ("parameters", "variables") and args and args[0][0] == "lit":
                    pool = scope_params if fname == "parameters" else scope_vars
                    if args[0][1] not in pool:
                        problems.append(f"{label}: {w}: {fname}({args[0][1]!r}) is not declared")

    for name, v in variables.items():
        check_expressions(v, f"variables.{name}", params, variables)
    for name, out in template.get("outputs", {}).items():
        if "type" not in out or "value" not in out:
            problems.append(f"{label}: output {name}: needs type and value")
        check_expressions(out, f"outputs.{name}", params, variables)

    try:
        ev = ArmEvaluator(template, param_values or {})
    except TemplateError as exc:
        ev = None
        problems.append(f"{label}: cannot evaluate for checks: {exc}")
    if ev is not None:
        for name, out in template.get("outputs", {}).items():
            try:
                value = ev.value(out.get("value"))
            except TemplateError as exc:
                problems.append(f"{label}: output {name}: {exc}")
                continue
            for secret in _secret_refs(value):
                problems.append(f"{label}: output {name} exposes a secret: {secret}")
    declared_ids = set()
    resources = template.get("resources", [])
    if not isinstance(resources, list):
        problems.append(f"{label}: resources must be an array")
        resources = []
    for i, res in enumerate(resources):
        where = f"resources[{i}]"
        for k in ("type", "apiVersion", "name"):
            if k not in res:
                problems.append(f"{label}: {where}: {k!r} is missing")
        rtype, api = res.get("type", ""), res.get("apiVersion", "")
        if rtype and not RESOURCE_TYPE_RE.match(rtype):
            problems.append(f"{label}: {where}: type {rtype!r} is not Namespace/type[/child]")
        if api and not API_VERSION_RE.match(api):
            problems.append(f"{label}: {where}: apiVersion {api!r} is not YYYY-MM-DD[-preview]")
        inner = res.get("properties", {}).get("expressionEvaluationOptions", {}).get("scope") == "inner"
        body = {k: v for k, v in res.items() if not (inner and k == "properties")}
        if inner:
            body["properties"] = {k: v for k, v in res["properties"].items() if k != "template"}
        check_expressions(body, where, params, variables)
        if ev is not None and rtype and "name" in res:
            try:
                name = ev.value(res["name"])
                segments = name.split("/")
                if len(segments) != len(rtype.split("/")) - 1:
                    problems.append(f"{label}: {where}: name {name!r} has {len(segments)} segments, "
                                    f"type {rtype} needs {len(rtype.split('/')) - 1}")
                else:
                    declared_ids.add(resource_id(rtype, *segments))
            except TemplateError as exc:
                problems.append(f"{label}: {where}: name: {exc}")
    if ev is not None:
        for i, res in enumerate(resources):
            for dep in res.get("dependsOn", []):
                try:
                    dep_id = ev.value(dep)
                except TemplateError as exc:
                    problems.append(f"{label}: resources[{i}].dependsOn: {exc}")
                    continue
                if dep_id not in declared_ids:
                    problems.append(f"{label}: resources[{i}].dependsOn {dep!r} is no resource of this template")
    for i, res in enumerate(resources):
        props = res.get("properties", {})
        if res.get("type") == DEPLOYMENTS_TYPE and isinstance(props.get("template"), dict):
            nested_values = {}
            if ev is not None:
                try:
                    nested_values = {k: ev.value(v["value"]) for k, v in props.get("parameters", {}).items()}
                except TemplateError as exc:
                    problems.append(f"{label}: resources[{i}] parameters: {exc}")
            nested_label = f"{label} > {res.get('name')}"
            declared = set(props["template"].get("parameters", {}))
            for k in sorted(set(nested_values) - declared):
                problems.append(f"{nested_label}: parameter {k!r} passed but not declared")
            for k, spec in props["template"].get("parameters", {}).items():
                if k not in nested_values and "defaultValue" not in spec:
                    problems.append(f"{nested_label}: required parameter {k!r} not passed")
            if not any(isinstance(v, Ref) for v in nested_values.values()):
                problems.extend(validate_template(props["template"], nested_label, nested_values))
    return problems


def mutated(template, mutate):
    """A deep copy of a template changed by mutate(copy) (for negative tests)."""
    copy_ = copy.deepcopy(template)
    mutate(copy_)
    return copy_
