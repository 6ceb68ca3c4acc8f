# SPDX-License-Identifier: GPL-3.0-or-later
"""STAND-IN, for tests only: a small evaluator of ARM template JSON.

It is part of the local stand-in of Azure Resource Manager (see server.py in
this folder), so that a deployment of infra/bicep/main.json can create the
resources the opskit playbooks then update and scale, and so that what-if has
something to compare.  It knows the template functions compiled Bicep uses
(parameters, variables, format, concat, resourceId, reference, uniqueString,
resourceGroup, subscription, if, ...); it is NOT Azure's template engine:
uniqueString is a sha256 label, not Azure's hash, and listKeys answers fixed
stand-in keys.
"""
import copy
import hashlib
import json
import re


class TemplateError(Exception):
    pass


class Unresolved(Exception):
    """A reference() to a resource not deployed yet (try again later)."""


# ---------------------------------------------------------------- parsing
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w]*)|(?P<op>[().,\[\]]))")


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise TemplateError("cannot parse expression near %r" % text[pos:pos + 20])
        pos = m.end()
        for kind in ("str", "num", "name", "op"):
            if m.group(kind) is not None:
                out.append((kind, m.group(kind)))
                break
    return out


class _Parser(object):
    def __init__(self, text):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise TemplateError("expected %r, got %r" % (value, tok[1]))
        self.i += 1
        return tok

    def expr(self):
        kind, val = self.take()
        if kind == "str":
            node = ("lit", val[1:-1].replace("''", "'"))
        elif kind == "num":
            node = ("lit", float(val) if "." in val else int(val))
        elif kind == "name":
            self.take("(")
            args = []
            if self.peek()[1] != ")":
                args.append(self.expr())
                while self.peek()[1] == ",":
                    self.take(",")
                    args.append(self.expr())
            self.take(")")
            node = ("call", val, args)
        else:
            raise TemplateError("unexpected %r" % val)
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                node = ("prop", node, ("lit", self.take()[1]))
            else:
                idx = self.expr()
                self.take("]")
                node = ("prop", node, idx)
        return node


def parse(text):
    p = _Parser(text)
    node = p.expr()
    if p.i != len(p.toks):
        raise TemplateError("trailing text in expression %r" % text)
    return node


def is_expression(value):
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


# ------------------------------------------------------------- evaluation
def resource_id(sub, rg, rtype, *names):
    parts = rtype.split("/")
    ns, types = parts[0], parts[1:]
    if len(types) != len(names):
        raise TemplateError("resourceId(%s): %d names for %d types" % (rtype, len(names), len(types)))
    path = "/subscriptions/%s/resourceGroups/%s/providers/%s" % (sub, rg, ns)
    for t, n in zip(types, names):
        path += "/%s/%s" % (t, n)
    return path


class Context(object):
    """Evaluation scope of one (possibly nested) template."""

    def __init__(self, template, parameters, subscription, resource_group, location, lookup, deployment_name):
        self.template = template
        self.sub = subscription
        self.rg = resource_group
        self.location = location
        self.lookup = lookup          # resource id -> stored resource (dict) or None
        self.deployment_name = deployment_name
        self.params = {}
        self.copy_index = {}
        for name, spec in (template.get("parameters") or {}).items():
            if name in parameters:
                val = parameters[name]
                val = val.get("value") if isinstance(val, dict) and "value" in val else val
            elif "defaultValue" in spec:
                val = self.evaluate(spec["defaultValue"])
            else:
                raise TemplateError("template parameter %r has no value" % name)
            allowed = spec.get("allowedValues")
            if allowed and val not in allowed:
                raise TemplateError("parameter %r: %r is not one of %r" % (name, val, allowed))
            self.params[name] = val
        self._vars_raw = template.get("variables") or {}
        self._vars = {}
        self.symbols = {}             # symbolic name (languageVersion 2.0) -> resource id

    def variable(self, name):
        if name not in self._vars:
            if name not in self._vars_raw:
                raise TemplateError("unknown variable %r" % name)
            self._vars[name] = self.evaluate(self._vars_raw[name])
        return self._vars[name]

    def evaluate(self, value):
        if is_expression(value):
            return self._eval(parse(value[1:-1]))
        if isinstance(value, str) and value.startswith("[["):
            return value[1:]
        if isinstance(value, dict):
            return dict((k, self.evaluate(v)) for k, v in value.items())
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        return value

    def _eval(self, node):
        if node[0] == "lit":
            return node[1]
        if node[0] == "prop":
            base = self._eval(node[1])
            key = self._eval(node[2])
            try:
                return base[key]
            except (KeyError, IndexError, TypeError):
                raise TemplateError("no property %r in %s" % (key, json.dumps(base)[:200]))
        name = node[1].lower()
        if name == "if":
            return self._eval(node[2][1]) if self._eval(node[2][0]) else self._eval(node[2][2])
        args = [self._eval(a) for a in node[2]]
        fn = getattr(self, "fn_" + name, None)
        if fn is None:
            raise TemplateError("the stand-in does not know the template function %s()" % node[1])
        return fn(*args)

    # template functions
    def fn_parameters(self, name):
        return self.params[name]

    def fn_variables(self, name):
        return self.variable(name)

    def fn_format(self, fmt, *args):
        return re.sub(r"\{(\d+)(?::[^}]*)?\}", lambda m: _str(args[int(m.group(1))]), fmt)

    def fn_concat(self, *args):
        if args and isinstance(args[0], list):
            return [x for a in args for x in a]
        return "".join(_str(a) for a in args)

    def fn_tolower(self, s):
        return s.lower()

    def fn_toupper(self, s):
        return s.upper()

    def fn_string(self, v):
        return _str(v)

    def fn_int(self, v):
        return int(v)

    def fn_bool(self, v):
        return v if isinstance(v, bool) else str(v).lower() == "true"

    def fn_true(self):
        return True

    def fn_false(self):
        return False

    def fn_null(self):
        return None

    def fn_equals(self, a, b):
        return a == b

    def fn_not(self, a):
        return not a

    def fn_and(self, *a):
        return all(a)

    def fn_or(self, *a):
        return any(a)

    def fn_greater(self, a, b):
        return a > b

    def fn_less(self, a, b):
        return a < b

    def fn_length(self, v):
        return len(v)

    def fn_empty(self, v):
        return not v

    def fn_contains(self, c, v):
        return v in c

    def fn_coalesce(self, *a):
        return next((x for x in a if x is not None), None)

    def fn_take(self, v, n):
        return v[:n]

    def fn_skip(self, v, n):
        return v[n:]

    def fn_substring(self, s, start, length=None):
        return s[start:] if length is None else s[start:start + length]

    def fn_replace(self, s, a, b):
        return s.replace(a, b)

    def fn_split(self, s, sep):
        return s.split(sep)

    def fn_first(self, v):
        return v[0]

    def fn_last(self, v):
        return v[-1]

    def fn_min(self, *a):
        return min(a[0]) if len(a) == 1 else min(a)

    def fn_max(self, *a):
        return max(a[0]) if len(a) == 1 else max(a)

    def fn_add(self, a, b):
        return a + b

    def fn_sub(self, a, b):
        return a - b

    def fn_mul(self, a, b):
        return a * b

    def fn_div(self, a, b):
        return a // b

    def fn_createobject(self, *a):
        return dict(zip(a[0::2], a[1::2]))

    def fn_createarray(self, *a):
        return list(a)

    def fn_array(self, v):
        return v if isinstance(v, list) else [v]

    def fn_union(self, *a):
        if isinstance(a[0], dict):
            out = {}
            for d in a:
                out.update(d)
            return out
        out = []
        for lst in a:
            out.extend(x for x in lst if x not in out)
        return out

    def fn_json(self, s):
        return json.loads(s)

    def fn_uniquestring(self, *a):
        return hashlib.sha256("|".join(_str(x) for x in a).encode()).hexdigest()[:13]

    def fn_guid(self, *a):
        h = hashlib.sha256("|".join(_str(x) for x in a).encode()).hexdigest()
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32])

    def fn_resourcegroup(self):
        return {"id": "/subscriptions/%s/resourceGroups/%s" % (self.sub, self.rg), "name": self.rg,
                "location": self.location, "properties": {"provisioningState": "Succeeded"}}

    def fn_subscription(self):
        return {"id": "/subscriptions/%s" % self.sub, "subscriptionId": self.sub,
                "tenantId": "00000000-0000-0000-0000-000000000000"}

    def fn_tenant(self):
        return {"tenantId": "00000000-0000-0000-0000-000000000000"}

    def fn_deployment(self):
        return {"name": self.deployment_name, "properties": {}}

    def fn_environment(self):
        return {"name": "OpskitStandin", "suffixes": {"storage": "core.windows.net"}}

    def fn_resourceid(self, *a):
        if a and a[0].startswith("/subscriptions/"):
            raise TemplateError("resourceId() with a subscription id is not supported by the stand-in")
        return resource_id(self.sub, self.rg, *a)

    def fn_subscriptionresourceid(self, rtype, *names):
        return "/subscriptions/%s/providers/%s/%s" % (self.sub, rtype, "/".join(names))

    def fn_extensionresourceid(self, scope, rtype, *names):
        parts = rtype.split("/")
        path = scope + "/providers/" + parts[0]
        for t, n in zip(parts[1:], names):
            path += "/%s/%s" % (t, n)
        return path

    def fn_copyindex(self, loop=None, offset=0):
        if isinstance(loop, int):
            loop, offset = None, loop
        return self.copy_index.get(loop, self.copy_index.get(None, 0)) + offset

    def _resolve(self, ref):
        if ref in self.symbols:
            return self.symbols[ref]
        if ref.startswith("/subscriptions/"):
            return ref
        raise Unresolved(ref)

    def fn_reference(self, ref, api_version=None, full=None):
        rid = self._resolve(ref)
        found = self.lookup(rid)
        if found is None:
            raise Unresolved(rid)
        if full and str(full).lower() == "full":
            return found
        return found.get("properties", {})

    def fn_listkeys(self, ref, api_version=None):
        return {"keys": [{"keyName": "key1", "value": "standin-key"}], "primarySharedKey": "standin-key",
                "primaryKey": "standin-key", "primaryConnectionString": "Endpoint=sb://standin/;SharedAccessKey=standin-key"}


def _str(v):
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


# ------------------------------------------------------------- expansion
def _resource_list(template):
    res = template.get("resources") or []
    if isinstance(res, dict):   # languageVersion 2.0: symbolic names
        return list(res.items())
    return [(None, r) for r in res]


def expand(template, parameters, subscription, resource_group, location, lookup, deployment_name, apply, _views=None):
    """Evaluate a template; return (resources, outputs).

    resources: list of dicts {id, type, name, location, tags, sku, kind,
    properties, identity} of the concrete resources (nested deployments
    expanded into theirs).  apply(resource) is called for each resource, in an
    order where every reference() resolves, and returns the resource as the
    provider holds it (the stand-in stores it; what-if only previews it).
    """
    ctx = Context(template, parameters, subscription, resource_group, location, lookup, deployment_name)
    pending = []
    for symbol, res in _resource_list(template):
        if res.get("existing"):
            rid = resource_id(subscription, resource_group, res["type"], *ctx.evaluate(res["name"]).split("/"))
            if symbol:
                ctx.symbols[symbol] = rid
            continue
        if "copy" in res:
            count = ctx.evaluate(res["copy"]["count"])
            for i in range(int(count)):
                pending.append((symbol, res, {res["copy"]["name"]: i, None: i}))
        else:
            pending.append((symbol, res, {}))
    for symbol, res, dummy in pending:
        if symbol and "copy" not in res:
            name = ctx.evaluate(res["name"])
            ctx.symbols[symbol] = resource_id(subscription, resource_group, res["type"], *name.split("/"))
    created = []
    local = {} if _views is None else _views   # id -> resource as the provider holds it, shared by nested templates

    def local_lookup(rid):
        return local.get(rid.lower()) or lookup(rid)
    ctx.lookup = local_lookup
    for _attempt in range(len(pending) + 1):
        later = []
        for item in pending:
            symbol, res, idx = item
            ctx.copy_index = idx
            try:
                if "condition" in res and not ctx.evaluate(res["condition"]):
                    continue
                name = ctx.evaluate(res["name"])
                rid = resource_id(subscription, resource_group, res["type"], *name.split("/"))
                if res["type"].lower() == "microsoft.resources/deployments":
                    props = res.get("properties", {})
                    inner_scope = (props.get("expressionEvaluationOptions") or {}).get("scope", "outer") == "inner"
                    inner_params = ctx.evaluate(props.get("parameters") or {}) if inner_scope else {}
                    inner_tpl = props["template"] if inner_scope else dict(props["template"], parameters={})
                    sub_res, sub_out = expand(inner_tpl, inner_params, subscription, resource_group, location,
                                              local_lookup, name, apply, local)
                    created.extend(sub_res)
                    local[rid.lower()] = {"id": rid, "name": name, "type": res["type"],
                                          "properties": {"outputs": sub_out, "provisioningState": "Succeeded"}}
                    continue
                body = {"id": rid, "name": name.split("/")[-1], "type": res["type"],
                        "location": ctx.evaluate(res.get("location", location)),
                        "properties": ctx.evaluate(res.get("properties", {}))}
                for key in ("tags", "sku", "kind", "identity"):
                    if key in res:
                        body[key] = ctx.evaluate(res[key])
            except Unresolved:
                later.append(item)
                continue
            stored = apply(body)
            local[rid.lower()] = stored
            created.append(body)
        pending = later
        if not pending:
            break
    if pending:
        raise TemplateError("could not resolve references of %s" % [entry[1]["name"] for entry in pending])
    outputs = {}
    for name, spec in (template.get("outputs") or {}).items():
        try:
            outputs[name] = {"type": spec.get("type", "string"), "value": ctx.evaluate(spec["value"])}
        except Unresolved:
            outputs[name] = {"type": spec.get("type", "string"), "value": None}
    return created, outputs


def deep_copy(value):
    return copy.deepcopy(value)
