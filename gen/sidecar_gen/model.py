# SPDX-License-Identifier: MIT
"""Load and check the protocol YAML; compute every layout.

Everything the generator emits comes from the Protocol object built here.
Any defect in the YAML raises GenError naming file:line and the reason; no
output is written unless the whole protocol is consistent.
"""

import os
import re

import yaml


class GenError(Exception):
    """A defect in the protocol description, reported as file:line: reason."""

    def __init__(self, where, message):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class Node(dict):
    """A YAML mapping that remembers where it was written."""

    where = "?"


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node):
    mapping = Node()
    seen = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise GenError(f"{loader.name}:{key_node.start_mark.line + 1}",
                           f"duplicate key '{key}'")
        seen.add(key)
        mapping[key] = loader.construct_object(value_node, deep=True)
    mapping.where = f"{loader.name}:{node.start_mark.line + 1}"
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                        _construct_mapping)

SCALARS = {
    "u8": (1, "uint8_t", False), "u16": (2, "uint16_t", False),
    "u32": (4, "uint32_t", False), "u64": (8, "uint64_t", False),
    "i8": (1, "int8_t", True), "i16": (2, "int16_t", True),
    "i32": (4, "int32_t", True), "i64": (8, "int64_t", True),
    "bool": (1, "uint8_t", False),
}
WRITERS = ("shim", "kernel", "host", "both")
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
SIZEOF = re.compile(r"^sizeof\(([a-z][a-z0-9_]*)\)$")

FIELD_KEYS = {"name", "type", "offset", "count", "doc", "writer", "atomic",
              "range", "or_zero", "align", "zero", "equals", "bounded_by"}
STRUCT_KEYS = {"name", "size", "align", "doc", "fields", "rules"}
ENUM_KEYS = {"name", "type", "doc", "values"}
CONST_KEYS = {"name", "value", "doc"}
RULE_KEYS = {
    "sorted_disjoint": {"array", "count", "base", "length"},
    "within": {"array", "count", "base", "length", "limit"},
    "min_memory": {"array", "count", "size", "cpus", "fixed_pages",
                   "per_cpu_pages"},
    "unique": {"array", "count", "field"},
    "less_than": {"field", "limit", "inclusive"},
    "disjoint": {"ranges"},
}


class Constant:
    def __init__(self, name, value, doc, where):
        self.name, self.value, self.doc, self.where = name, value, doc, where


class EnumValue:
    def __init__(self, name, value, doc):
        self.name, self.value, self.doc = name, value, doc


class Enum:
    def __init__(self, name, type_, doc, values, where):
        self.name, self.type, self.doc = name, type_, doc
        self.values, self.where = values, where

    @property
    def size(self):
        return SCALARS[self.type][0]

    @property
    def ctype(self):
        return f"sidecar_{self.name}_t"


class Field:
    """One field of a struct, with its resolved type and constraints."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def end(self):
        return self.offset + self.size

    @property
    def size(self):
        return self.elem_size * (self.count or 1)

    @property
    def is_array(self):
        return self.count is not None

    @property
    def is_struct(self):
        return self.struct is not None

    def checks(self):
        """True when a validator has something to check for this field."""
        return bool(self.range or self.align or self.zero
                    or self.equals is not None or self.bounded_by
                    or self.kind in ("enum", "bool")
                    or (self.is_struct and self.struct.has_checks()))


class Struct:
    def __init__(self, name, size, align, doc, where):
        self.name, self.size, self.align = name, size, align
        self.doc, self.where = doc, where
        self.fields = []
        self.rules = []

    @property
    def ctype(self):
        return f"struct sidecar_{self.name}"

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def natural_align(self):
        return max([f.elem_align for f in self.fields] or [1])

    def has_checks(self):
        return bool(self.rules) or any(f.checks() for f in self.fields)


class Rule:
    def __init__(self, kind, where, **kw):
        self.kind, self.where = kind, where
        self.__dict__.update(kw)


class Protocol:
    def __init__(self):
        self.sources = []
        self.file_docs = []
        self.constants = []
        self.enums = []
        self.structs = []
        self._names = {}

    # -- lookups ---------------------------------------------------------
    def constant(self, name):
        for c in self.constants:
            if c.name == name:
                return c
        return None

    def enum(self, name):
        for e in self.enums:
            if e.name == name:
                return e
        return None

    def struct(self, name):
        for s in self.structs:
            if s.name == name:
                return s
        return None

    def _declare(self, kind, name, where):
        if not isinstance(name, str) or not IDENT.match(name):
            raise GenError(where, f"{kind} name {name!r} is not a snake_case "
                           "identifier")
        if name in SCALARS:
            raise GenError(where, f"{kind} name '{name}' is a built-in type")
        if name in self._names:
            raise GenError(where, f"duplicate name '{name}' (first declared "
                           f"at {self._names[name]})")
        self._names[name] = where

    def value(self, expr, where, what):
        """Resolve an integer, a constant name or sizeof(struct)."""
        if isinstance(expr, bool):
            raise GenError(where, f"{what}: expected an integer, got {expr!r}")
        if isinstance(expr, int):
            return expr
        if isinstance(expr, str):
            m = SIZEOF.match(expr)
            if m:
                s = self.struct(m.group(1))
                cur = getattr(self, "current", None)
                if s is None and cur is not None and cur.name == m.group(1):
                    s = cur  # a struct may name its own (declared) size
                if s is None:
                    raise GenError(where, f"{what}: sizeof of unknown struct "
                                   f"'{m.group(1)}'")
                return s.size
            c = self.constant(expr)
            if c is not None:
                return c.value
            raise GenError(where, f"{what}: unknown constant '{expr}'")
        raise GenError(where, f"{what}: expected an integer or a constant "
                       f"name, got {expr!r}")


def _require(node, keys, where, what):
    for k in keys:
        if k not in node:
            raise GenError(where, f"{what}: missing '{k}'")


def _reject_unknown(node, allowed, where, what):
    for k in node:
        if k not in allowed:
            raise GenError(where, f"{what}: unknown key '{k}'")


def _doc(node, where, what):
    doc = node.get("doc")
    if not isinstance(doc, str) or not doc.strip():
        raise GenError(where, f"{what}: missing doc string")
    return " ".join(doc.split())


def load(paths):
    """Load every YAML file (in the order given) into one checked Protocol."""
    proto = Protocol()
    docs = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        loader = _Loader(text)
        loader.name = path
        try:
            data = loader.get_single_data()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 0
            raise GenError(f"{path}:{line}", f"not valid YAML: "
                           f"{getattr(exc, 'problem', exc)}") from None
        finally:
            loader.dispose()
        if data is None:
            data = Node()
            data.where = f"{path}:1"
        if not isinstance(data, dict):
            raise GenError(f"{path}:1", "top level must be a mapping")
        for k in data:
            if k not in ("doc", "constants", "enums", "structs"):
                raise GenError(data.where, f"unknown top-level key '{k}'")
        proto.sources.append(path)
        proto.file_docs.append((os.path.basename(path),
                                _doc(data, data.where, path)
                                if "doc" in data else ""))
        docs.append(data)
    for data in docs:
        for c in data.get("constants") or []:
            _load_constant(proto, c)
    for data in docs:
        for e in data.get("enums") or []:
            _load_enum(proto, e)
    for data in docs:
        for s in data.get("structs") or []:
            _load_struct(proto, s)
    return proto


def _load_constant(proto, node):
    where = getattr(node, "where", "?")
    if not isinstance(node, dict):
        raise GenError(where, "a constant must be a mapping")
    _require(node, ("name", "value"), where, "constant")
    _reject_unknown(node, CONST_KEYS, where, f"constant {node['name']}")
    proto._declare("constant", node["name"], where)
    value = node["value"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise GenError(where, f"constant {node['name']}: value must be an "
                       "integer")
    if not 0 <= value < 1 << 64:
        raise GenError(where, f"constant {node['name']}: value {value:#x} "
                       "does not fit in 64 bits")
    proto.constants.append(Constant(node["name"], value,
                                    _doc(node, where, node["name"]), where))


def _load_enum(proto, node):
    where = getattr(node, "where", "?")
    _require(node, ("name", "type", "values"), where, "enum")
    name = node["name"]
    _reject_unknown(node, ENUM_KEYS, where, f"enum {name}")
    proto._declare("enum", name, where)
    typ = node["type"]
    if typ not in SCALARS or typ == "bool":
        raise GenError(where, f"enum {name}: unknown underlying type "
                       f"'{typ}' (use u8, u16, u32, u64 or a signed one)")
    size, _, signed = SCALARS[typ]
    lo, hi = ((-(1 << (size * 8 - 1)), (1 << (size * 8 - 1)) - 1) if signed
              else (0, (1 << (size * 8)) - 1))
    values = []
    names, numbers = {}, {}
    for v in node["values"] or []:
        vwhere = getattr(v, "where", where)
        _require(v, ("name", "value"), vwhere, f"enum {name} value")
        _reject_unknown(v, {"name", "value", "doc"}, vwhere,
                        f"enum {name} value")
        vname, val = v["name"], v["value"]
        if not isinstance(vname, str) or not IDENT.match(vname):
            raise GenError(vwhere, f"enum {name}: value name {vname!r} is not "
                           "a snake_case identifier")
        if vname in names:
            raise GenError(vwhere, f"enum {name}: duplicate value name "
                           f"'{vname}'")
        if isinstance(val, bool) or not isinstance(val, int):
            raise GenError(vwhere, f"enum {name}.{vname}: value must be an "
                           "integer")
        if not lo <= val <= hi:
            raise GenError(vwhere, f"enum {name}.{vname}: value {val:#x} does "
                           f"not fit in {typ}")
        if val in numbers:
            raise GenError(vwhere, f"enum {name}.{vname}: value {val:#x} "
                           f"already used by '{numbers[val]}'")
        names[vname] = True
        numbers[val] = vname
        values.append(EnumValue(vname, val, _doc(v, vwhere,
                                                 f"{name}.{vname}")))
    if not values:
        raise GenError(where, f"enum {name}: no values")
    proto.enums.append(Enum(name, typ, _doc(node, where, f"enum {name}"),
                            values, where))


def _resolve_type(proto, typ, where, what):
    """Return (kind, elem_size, elem_align, ctype, enum, struct)."""
    if typ in SCALARS:
        size, ctype, _ = SCALARS[typ]
        return ("bool" if typ == "bool" else "scalar"), size, size, ctype, \
            None, None
    e = proto.enum(typ)
    if e is not None:
        return "enum", e.size, e.size, e.ctype, e, None
    s = proto.struct(typ)
    if s is not None:
        return "struct", s.size, s.align, s.ctype, None, s
    raise GenError(where, f"{what}: unknown type '{typ}'")


def _load_struct(proto, node):
    where = getattr(node, "where", "?")
    _require(node, ("name", "size", "align", "fields"), where, "struct")
    name = node["name"]
    _reject_unknown(node, STRUCT_KEYS, where, f"struct {name}")
    proto._declare("struct", name, where)
    size = proto.value(node["size"], where, f"struct {name}: size")
    align = proto.value(node["align"], where, f"struct {name}: align")
    if align <= 0 or align & (align - 1):
        raise GenError(where, f"struct {name}: align {align} is not a power "
                       "of two")
    if size <= 0 or size % align:
        raise GenError(where, f"struct {name}: size {size} is not a positive "
                       f"multiple of its alignment {align}")
    st = Struct(name, size, align, _doc(node, where, f"struct {name}"), where)
    proto.current = st
    cursor = 0
    prev = None
    for fnode in node["fields"] or []:
        f = _load_field(proto, st, fnode)
        if f.offset < cursor:
            raise GenError(f.where, f"{name}.{f.name}: offset {f.offset} "
                           f"overlaps or precedes '{prev.name}' (which ends "
                           f"at {cursor})")
        if f.offset > cursor:
            raise GenError(f.where, f"{name}.{f.name}: offset {f.offset} "
                           f"leaves a {f.offset - cursor}-byte gap after "
                           f"{'the start' if prev is None else prev.name} "
                           "(declare it as a reserved field)")
        if f.offset % f.elem_align:
            raise GenError(f.where, f"{name}.{f.name}: offset {f.offset} is "
                           f"not naturally aligned for {f.type} (alignment "
                           f"{f.elem_align})")
        if f.atomic and (f.kind == "struct" or f.elem_size not in (1, 2, 4, 8)
                         or f.offset % f.elem_size
                         or align < f.elem_size):
            raise GenError(f.where, f"{name}.{f.name}: atomic field must be a "
                           "1-, 2-, 4- or 8-byte scalar, naturally aligned in "
                           f"a struct aligned to at least its size")
        st.fields.append(f)
        cursor = f.end
        prev = f
    if not st.fields:
        raise GenError(where, f"struct {name}: no fields")
    if cursor != size:
        raise GenError(where, f"struct {name}: declared size {size} disagrees "
                       f"with its fields, which end at {cursor}")
    if st.natural_align() > align:
        raise GenError(where, f"struct {name}: align {align} is below its "
                       f"fields' alignment {st.natural_align()}")
    for f in st.fields:
        _check_field_refs(st, f)
    for rnode in node.get("rules") or []:
        st.rules.append(_load_rule(proto, st, rnode))
    proto.current = None
    proto.structs.append(st)


def _load_field(proto, st, node):
    where = getattr(node, "where", st.where)
    _require(node, ("name", "type", "offset"), where, f"{st.name} field")
    name = node["name"]
    what = f"{st.name}.{name}"
    _reject_unknown(node, FIELD_KEYS, where, what)
    if not isinstance(name, str) or not IDENT.match(name):
        raise GenError(where, f"{st.name}: field name {name!r} is not a "
                       "snake_case identifier")
    if st.field(name) is not None:
        raise GenError(where, f"{what}: duplicate field name")
    kind, esize, ealign, ctype, enum, struct = _resolve_type(
        proto, node["type"], where, what)
    offset = node["offset"]
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise GenError(where, f"{what}: offset must be a non-negative integer")
    count = None
    if "count" in node:
        count = proto.value(node["count"], where, f"{what}: count")
        if count <= 0:
            raise GenError(where, f"{what}: count must be positive")
    writer = node.get("writer")
    if writer is not None and writer not in WRITERS:
        raise GenError(where, f"{what}: writer '{writer}' is not one of "
                       f"{', '.join(WRITERS)}")
    atomic = bool(node.get("atomic", False))
    rng = None
    if "range" in node:
        r = node["range"]
        if not isinstance(r, list) or len(r) != 2:
            raise GenError(where, f"{what}: range must be [min, max]")
        rng = (proto.value(r[0], where, f"{what}: range"),
               proto.value(r[1], where, f"{what}: range"))
        if rng[0] > rng[1]:
            raise GenError(where, f"{what}: range minimum exceeds maximum")
        if kind not in ("scalar", "enum") or kind == "struct":
            raise GenError(where, f"{what}: range needs an integer field")
        if rng[1] >= 1 << (8 * esize):
            raise GenError(where, f"{what}: range maximum {rng[1]:#x} does "
                           f"not fit in {node['type']}")
    or_zero = bool(node.get("or_zero", False))
    if or_zero and rng is None:
        raise GenError(where, f"{what}: or_zero needs a range")
    falign = None
    if "align" in node:
        falign = proto.value(node["align"], where, f"{what}: align")
        if falign <= 0 or falign & (falign - 1):
            raise GenError(where, f"{what}: align {falign} is not a power of "
                           "two")
        if kind != "scalar":
            raise GenError(where, f"{what}: align needs an integer field")
    equals = None
    if "equals" in node:
        equals = proto.value(node["equals"], where, f"{what}: equals")
        if kind != "scalar" or count is not None:
            raise GenError(where, f"{what}: equals needs a scalar field")
    zero = bool(node.get("zero", False))
    if zero and kind == "struct":
        raise GenError(where, f"{what}: zero needs a scalar or array field")
    bounded_by = node.get("bounded_by")
    if bounded_by is not None and count is None:
        raise GenError(where, f"{what}: bounded_by needs an array field")
    count_expr = node.get("count")
    f = Field(name=name, type=node["type"], offset=offset, count=count,
              count_expr=count_expr,
              kind=kind, elem_size=esize, elem_align=ealign, ctype=ctype,
              enum=enum, struct=struct, writer=writer, atomic=atomic,
              range=rng, or_zero=or_zero, align=falign, equals=equals, zero=zero,
              bounded_by=bounded_by, doc=_doc(node, where, what),
              where=where)
    return f


def _int_field(st, name, where, what):
    f = st.field(name) if isinstance(name, str) else None
    if f is None:
        raise GenError(where, f"{what}: no field '{name}' in struct "
                       f"{st.name}")
    if f.kind not in ("scalar", "enum") or f.is_array:
        raise GenError(where, f"{what}: field '{name}' of {st.name} is not "
                       "an integer")
    return f


def _check_field_refs(st, f):
    if f.bounded_by is not None:
        b = _int_field(st, f.bounded_by, f.where,
                       f"{st.name}.{f.name}: bounded_by")
        if b.offset > f.offset:
            raise GenError(f.where, f"{st.name}.{f.name}: bounded_by field "
                           f"'{b.name}' must come before the array")


def _array_field(st, name, where, what):
    f = st.field(name) if isinstance(name, str) else None
    if f is None or not f.is_array or not f.is_struct:
        raise GenError(where, f"{what}: no array of structs '{name}' in "
                       f"struct {st.name}")
    return f


def _load_rule(proto, st, node):
    where = getattr(node, "where", st.where)
    kind = node.get("kind")
    what = f"{st.name}: rule {kind}"
    if kind not in RULE_KEYS:
        raise GenError(where, f"{st.name}: unknown rule kind {kind!r}")
    _reject_unknown(node, RULE_KEYS[kind] | {"kind"}, where, what)
    _require(node, sorted(RULE_KEYS[kind] - {"inclusive"}), where, what)
    r = Rule(kind, where)
    if "array" in node:
        arr = _array_field(st, node["array"], where, what)
        r.array = arr
        r.count = _int_field(st, node["count"], where, what)
        elem = arr.struct
        for key in ("base", "length", "field", "size", "cpus"):
            if key in node:
                setattr(r, key, _int_field(elem, node[key], where, what))
    if kind == "within":
        r.limit = _int_field(st, node["limit"], where, what)
    elif kind == "min_memory":
        r.fixed_pages = proto.value(node["fixed_pages"], where, what)
        r.per_cpu_pages = proto.value(node["per_cpu_pages"], where, what)
        r.page_size = proto.value("page_size", where, what)
    elif kind == "less_than":
        r.field = _int_field(st, node["field"], where, what)
        r.limit = _int_field(st, node["limit"], where, what)
        r.inclusive = bool(node.get("inclusive", False))
    elif kind == "disjoint":
        ranges = []
        for rn in node["ranges"] or []:
            rwhere = getattr(rn, "where", where)
            if "array" in rn:
                _reject_unknown(rn, {"array", "count", "base", "size"},
                                rwhere, what)
                arr = _array_field(st, rn["array"], rwhere, what)
                ranges.append({
                    "array": arr,
                    "count": _int_field(st, rn["count"], rwhere, what),
                    "base": _int_field(arr.struct, rn["base"], rwhere, what),
                    "size": _int_field(arr.struct, rn["size"], rwhere, what)})
            else:
                _reject_unknown(rn, {"base", "size"}, rwhere, what)
                base = _int_field(st, rn.get("base"), rwhere, what)
                size_ref = rn.get("size")
                if isinstance(size_ref, str) and st.field(size_ref):
                    size = {"field": _int_field(st, size_ref, rwhere, what)}
                else:
                    size = {"value": proto.value(size_ref, rwhere, what)}
                ranges.append({"array": None, "base": base, **size})
        if len(ranges) < 2:
            raise GenError(where, f"{what}: needs at least two ranges")
        r.ranges = ranges
    return r
