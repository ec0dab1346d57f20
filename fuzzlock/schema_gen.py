"""Generate the boundary files from fuzzlock/schema.py.

    python -m fuzzlock.schema_gen --write   # rewrite both files
    python -m fuzzlock.schema_gen --check   # exit 1 naming the stale ones

writes ``native/fuzzlock_schema.h`` (enums, constants, structures and prototypes for the
C side), ``native/fuzzlock_ops.h`` (the C model's op table: each op's handler prototype,
its call and result formatting, its encoding words' ranges; for native/model.c and
native/scenario.c) and ``fuzzlock/native/_schema.py`` (the same structures as ctypes classes, the
knob encoder and a ``declare`` that gives every exported function its argtypes/restype).
Both start with a "generated, do not edit" line; tests/test_schema.py regenerates them in
memory and fails when a committed copy differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fuzzlock import schema

#: C type -> ctypes expression (in the generated module's namespace).
CTYPES: dict[str, str] = {
    "void": "None",
    "char": "ctypes.c_char",
    "int": "ctypes.c_int",
    "unsigned int": "ctypes.c_uint",
    "long": "ctypes.c_long",
    "long long": "ctypes.c_longlong",
    "unsigned long long": "ctypes.c_ulonglong",
    "size_t": "ctypes.c_size_t",
    "double": "ctypes.c_double",
    "int32_t": "ctypes.c_int32",
    "uint8_t": "ctypes.c_uint8",
    "uint64_t": "ctypes.c_uint64",
    "const char *": "ctypes.c_char_p",
    "char *": "ctypes.c_char_p",
    "void *": "ctypes.c_void_p",
    "const long *": "ctypes.POINTER(ctypes.c_long)",
    "const long long *": "ctypes.POINTER(ctypes.c_longlong)",
    "long long *": "ctypes.POINTER(ctypes.c_longlong)",
    "const int *": "ctypes.POINTER(ctypes.c_int)",
    "int *": "ctypes.POINTER(ctypes.c_int)",
    "unsigned int *": "ctypes.POINTER(ctypes.c_uint)",
    "unsigned long long *": "ctypes.POINTER(ctypes.c_ulonglong)",
    "const int64_t *": "ctypes.POINTER(ctypes.c_int64)",
    "const struct fl_fp_step *": "ctypes.POINTER(FpStep)",
    "struct fl_model *": "ctypes.c_void_p",
    "struct fl_toy *": "ctypes.c_void_p",
    "struct fl_fp *": "ctypes.c_void_p",
    "struct fl_result *": "ctypes.POINTER(FlResult)",
    "struct fl_fp_result *": "ctypes.POINTER(FpResult)",
    "const struct fl_hunt_args *": "ctypes.POINTER(HuntArgs)",
    "struct fl_hunt_out *": "ctypes.POINTER(HuntOut)",
    "fl_choose_fn": "CHOOSE_CB",
}

#: struct name -> ctypes class name
CLASSES = {
    "fl_result": "FlResult",
    "fl_fp_step": "FpStep",
    "fl_fp_result": "FpResult",
    "fl_hunt_args": "HuntArgs",
    "fl_hunt_out": "HuntOut",
}

ROOT = Path(__file__).resolve().parent.parent
HEADER = Path("native/fuzzlock_schema.h")
OPS_HEADER = Path("native/fuzzlock_ops.h")
MODULE = Path("fuzzlock/native/_schema.py")
COMMAND = "python -m fuzzlock.schema_gen --write"
_NOTE = f"generated from fuzzlock/schema.py by `{COMMAND}`: do not edit"


def _c_value(v: int) -> str:
    if v < 0:
        return f"({v})"
    if v >= 1 << 16 and v & (v - 1) == 0:
        return f"(1 << {v.bit_length() - 1})"
    return str(v)


def _enum(name: str, items: list[tuple[str, int]], nr: str = "") -> list[str]:
    out = [f"enum {name} {{"]
    out += [f"\t{k} = {v}," for k, v in items]
    if nr:
        out.append(f"\t{nr}")
    return [*out, "};", ""]


def render_header() -> str:
    """native/fuzzlock_schema.h."""
    h = schema.schema_hash()
    out = [
        "/* SPDX-License-Identifier: GPL-2.0-only */",
        f"/* {_NOTE} */",
        "#ifndef FUZZLOCK_SCHEMA_H",
        "#define FUZZLOCK_SCHEMA_H",
        "",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        f"#define FL_ABI_VERSION\t{schema.ABI_VERSION}",
        f"#define FL_SCHEMA_HASH\t0x{h:016x}ULL",
        "",
    ]
    out += [
        f"#define {n}\t{_c_value(getattr(schema, n))}\t/* {d} */"
        for n, d in schema.CONSTANTS.items()
    ]
    out.append("")
    out += ["/* knob slots of the model encoding, in fuzzlock.schema.KNOBS order */"]
    out += _enum("fl_knob", [(k.c_name, i) for i, k in enumerate(schema.KNOBS)], "K_NR")
    out.append("/* the largest code of each knob slot */")
    maxes = ", ".join(str(len(k.codes) - 1) for k in schema.KNOBS)
    out += [
        "static inline long long fl_knob_max(int k)",
        "{",
        f"\tstatic const long long max[K_NR] = {{ {maxes} }};",
        "",
        "\treturn max[k];",
        "}",
        "",
    ]
    for k in schema.KNOBS:
        out += [f"#define {c}\t{i}" for i, c in enumerate(k.c_consts)]
    out.append("")
    out += _enum(
        "fl_sc_code",
        sorted(((o.c_name, o.code) for o in schema.OPS), key=lambda x: x[1]),
        "FL_SC_NR_CODES",
    )
    out += [f"#define FL_MMAP_{n.upper()}\t{v}" for n, v in schema.MMAP_FLAGS.items()]
    out.append("")
    out += _enum(
        "fl_op_kind", [(f"FL_OP_{k}", v) for k, v in schema.OP_KINDS.items()], "FL_OP_NR_KINDS"
    )
    out += _enum("fl_mode", [(f"FL_{k}", v) for k, v in schema.MODES.items()])
    out += _enum("fl_outcome", list(schema.OUTCOMES.items()))
    out += _enum("fl_hunt_strategy", list(schema.HUNT_STRATEGIES.items()), "FL_HUNT_NR_STRATEGIES")
    out.append("/* invariant ids (fuzzlock.schema.INVARIANTS) */")
    for inv in schema.INVARIANTS:
        name = "FL_INV_" + "".join(c if c.isalnum() else "_" for c in inv).upper()
        out.append(f'#define {name}\t"{inv}"')
    out.append("")
    for sname, fields in schema.STRUCTS.items():
        out.append(f"struct {sname} {{")
        for ctype, fname, n in fields:
            sep = "" if ctype.endswith("*") else " "
            out.append(f"\t{ctype}{sep}{fname}{f'[{n}]' if n else ''};")
        out += ["};", ""]
    out += [
        "/* decisions from a callback: a decision c >= 0 (order[c % n] runs), < 0 aborts */",
        "typedef long long (*fl_choose_fn)(void *ctx, const int *order, int n, int current);",
        "",
        "struct fl_model;",
        "struct fl_toy;",
        "struct fl_fp;",
        "",
    ]
    for group in schema.FUNCTIONS:
        out.append(f"/* {group} */")
        for ret, name, params in schema.prototypes(group):
            sep = "" if ret.endswith("*") else " "
            out.append(f"{ret}{sep}{name}({', '.join(params) or 'void'});")
        out.append("")
    out += ["#endif /* FUZZLOCK_SCHEMA_H */", ""]
    return "\n".join(out)


#: Op.result -> (the C handler's return type, its extra trailing parameter)
_RESULT_C: dict[str, tuple[str, str]] = {
    "int": ("long long", ""),
    "bool": ("bool", ""),
    "str": ("const char *", ""),
    "access": ("long long", ""),
    "folio": ("int", ""),
    "opt_int": ("bool", "long long *out"),
    "ids": ("int", "int *ids"),
}
_TARGET_C = {"mm": "struct fl_mm *mm", "folio": "struct fl_folio *folio", "none": ""}
_WORDS = ("a", "b", "c", "d", "e")


def _c_ll(v: int) -> str:
    return "(-9223372036854775807LL - 1)" if v == -(2**63) else f"{v}LL"


def _handler_proto(op: schema.Op) -> str:
    ret, extra = _RESULT_C[op.result]
    params = ["struct fl_world *w", _TARGET_C[op.target]]
    params += [f"{s.ctype} {s.field}" for s in op.args]
    params += [f"bool {k}" for k, _v in op.consts]
    params.append(extra)
    sep = "" if ret.endswith("*") else " "
    return f"{ret}{sep}{op.c}({', '.join(p for p in params if p)});"


def _handler_call(op: schema.Op) -> str:
    args = ["w", {"mm": "mm", "folio": "folio", "none": ""}[op.target]]
    for s in op.args:
        word = f"o->{_WORDS[op.slots.index(s)]}"
        args.append({"int": f"(int){word}", "bool": f"{word} != 0"}.get(s.ctype, word))
    args += ["true" if v else "false" for _k, v in op.consts]
    return f"{op.c}({', '.join(a for a in args if a)}"


def _handler_body(op: schema.Op) -> tuple[list[str], list[str]]:
    """(declarations, statements) of the runner of ``op``."""
    call = _handler_call(op)
    if op.result == "opt_int":
        return ["\tlong long v = 0;"], [
            f"\tif ({call}, &v))",
            "\t\tfl_res_int(out, v);",
            "\telse",
            '\t\tfl_res_str(out, "-");',
        ]
    if op.result == "ids":
        return ["\tint ids[FL_MAX_MMS];"], [f"\tfl_res_ids(out, ids, {call}, ids));"]
    if op.result == "folio":
        return [], [f'\tfl_res_folio(w, out, {call}), "{op.result_none}");']
    return [], [f"\tfl_res_{op.result}(out, {call}));"]


def render_ops_header() -> str:
    """native/fuzzlock_ops.h: the C model's op table."""
    out = [
        "/* SPDX-License-Identifier: GPL-2.0-only */",
        f"/* {_NOTE} */",
        "/*",
        " * The scenario ops of fuzzlock.schema.OPS for the C model: each op's handler",
        " * prototype (derived from its schema entry, so the compiler checks the handler",
        " * against it), a runner of one uniform signature that decodes the op's words,",
        " * calls the handler and formats its result (model.c fl_res_*), and the ranges of",
        " * its encoding words (scenario.c check_op).  Included by model.c and scenario.c.",
        " */",
        "#ifndef FUZZLOCK_OPS_H",
        "#define FUZZLOCK_OPS_H",
        "",
        '#include "model_int.h"',
        "",
        "enum fl_op_target { FL_OP_TARGET_NONE, FL_OP_TARGET_MM, FL_OP_TARGET_FOLIO };",
        "",
        "#define FL_SLOT_NAME\t1\t/* an index into the names string */",
        "#define FL_SLOT_SETUP\t2\t/* nonzero only in the setup */",
        "",
        "struct fl_op_slot {",
        "\tlong long lo, hi;",
        "\tunsigned int flags;\t/* FL_SLOT_* */",
        "};",
        "",
        "/* run one op: @mm or @folio is its target (NULL if it has none), @out its result */",
        "typedef void (*fl_op_run_fn)(struct fl_world *w, struct fl_mm *mm, struct fl_folio *folio,",
        "\t\t\t     const struct fl_sc_op *o, char *out);",
        "",
        "struct fl_op_desc {",
        "\tconst char *name;",
        "\tenum fl_op_target target;",
        "\tbool setup_only;",
        "\tstruct fl_op_slot slot[FL_OP_WORDS - 1];\t/* mm, a .. e */",
        "\tfl_op_run_fn run;\t/* NULL: a special case (fuzzlock.schema Op.special) */",
        "};",
        "",
        "/* the handlers */",
    ]
    generic = [op for op in schema.OPS if op.c and op.result != "custom"]
    protos: dict[str, str] = {}
    for op in generic:
        proto = _handler_proto(op)
        if protos.setdefault(op.c, proto) != proto:
            raise ValueError(f"op {op.name}: {op.c} would get two prototypes")
    out += [*protos.values(), ""]
    for op in generic:
        out += [
            f"static void fl_op_run_{op.name}(struct fl_world *w, struct fl_mm *mm,",
            "\t\t\t\tstruct fl_folio *folio, const struct fl_sc_op *o, char *out)",
            "{",
        ]
        decls, stmts = _handler_body(op)
        unused = [v for v in ("mm", "folio") if v != op.target]
        if not op.args:
            unused.append("o")
        out += decls + ([""] if decls else []) + [f"\t(void){v};" for v in unused] + stmts
        out += ["}", ""]
    out += [
        "static const struct fl_op_desc fl_ops[FL_SC_NR_CODES] __attribute__((unused)) = {",
    ]
    for op in sorted(schema.OPS, key=lambda o: o.code):
        target = f"FL_OP_TARGET_{op.target.upper()}"
        slots = []
        for s in (schema.Slot("mm", *op.mm_range), *op.slots):
            flags = "FL_SLOT_NAME" if s.enc == "name" else "FL_SLOT_SETUP" if s.setup_only else "0"
            slots.append(f"{{ {_c_ll(s.lo)}, {_c_ll(s.hi)}, {flags} }}")
        slots += ["{ 0, 0, 0 }"] * (schema.FL_OP_WORDS - 1 - len(slots))
        run = f"fl_op_run_{op.name}" if op.c and op.result != "custom" else "NULL"
        out += [
            f"\t[{op.c_name}] = {{",
            f'\t\t"{op.name}", {target}, {"true" if op.setup_only else "false"},',
            "\t\t{ " + ",\n\t\t  ".join(slots) + " },",
            f"\t\t{run},",
            "\t},",
        ]
    out += ["};", "", "#endif /* FUZZLOCK_OPS_H */", ""]
    return "\n".join(out)


def render_module() -> str:
    """fuzzlock/native/_schema.py."""
    h = schema.schema_hash()
    out = [
        f'"""The ctypes side of the boundary ({_NOTE}).',
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import ctypes",
        "from typing import Any",
        "",
        f"ABI_VERSION = {schema.ABI_VERSION}",
        f"SCHEMA_HASH = 0x{h:016x}",
        "",
        "#: ``long long choose(void *ctx, const int *order, int n, int current)``",
        "CHOOSE_CB = ctypes.CFUNCTYPE(",
        "    ctypes.c_longlong, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_int",
        ")",
        "",
    ]
    for sname, fields in schema.STRUCTS.items():
        out += [
            "",
            f"class {CLASSES[sname]}(ctypes.Structure):",
            f'    """``struct {sname}``."""',
            "",
            "    _fields_ = [",
        ]
        for ctype, fname, n in fields:
            t = CTYPES[ctype]
            if n:
                t = f"{t} * ({' '.join(str(getattr(schema, w, w)) for w in n.split())})"
            out.append(f'        ("{fname}", {t}),')
        out += ["    ]", ""]
    out += [
        "",
        "#: exported functions by group: name -> (restype, argtypes)",
        "FUNCTIONS: dict[str, dict[str, tuple[Any, list[Any]]]] = {",
    ]
    for group in schema.FUNCTIONS:
        out.append(f'    "{group}": {{')
        for ret, name, params in schema.prototypes(group):
            args = ", ".join(CTYPES[p] for p in params)
            out.append(f'        "{name}": ({CTYPES[ret]}, [{args}]),')
        out.append("    },")
    out += ["}", "", f"LIBRARY_GROUPS = {schema.LIBRARY_GROUPS!r}", ""]
    out += [
        "",
        "def declare(lib: Any, groups: tuple[str, ...]) -> None:",
        '    """Give every function of ``groups`` its restype and argtypes on ``lib``; AttributeError',
        '    names the first one the library lacks."""',
        "    for group in groups:",
        "        for name, (restype, argtypes) in FUNCTIONS[group].items():",
        "            fn = getattr(lib, name)",
        "            fn.restype = restype",
        "            fn.argtypes = argtypes",
        "",
        "",
        "#: knob name -> its C codes: value ``codes[i]`` crosses the border as ``i``",
        "KNOB_CODES: dict[str, tuple[Any, ...]] = {",
    ]
    out += [f'    "{k.name}": {k.codes!r},' for k in schema.KNOBS]
    out += [
        "}",
        "",
        "",
        "def encode_knobs(knobs: Any) -> list[int]:",
        '    """The knob slots of the model encoding (``enum fl_knob``) from a full knob map."""',
        "    out = []",
        "    for name, codes in KNOB_CODES.items():",
        "        v = knobs[name]",
        "        for i, c in enumerate(codes):",
        "            if c == v and type(c) is type(v):",
        "                out.append(i)",
        "                break",
        "        else:",
        '            raise ValueError(f"knob {name}: {v!r} has no C code")',
        "    return out",
        "",
    ]
    return "\n".join(out)


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Each generated file (relative to the repository) and the text it should have."""
    return {HEADER: render_header(), OPS_HEADER: render_ops_header(), MODULE: render_module()}


def stale(root: Path = ROOT) -> list[Path]:
    """The generated files whose committed text differs from the schema's."""
    out = []
    for rel, text in generated(root).items():
        p = root / rel
        if not p.is_file() or p.read_text() != text:
            out.append(rel)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzzlock.schema_gen", description=__doc__)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", action="store_true", help="rewrite the generated files")
    g.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    args = ap.parse_args(argv)
    if args.write:
        for rel, text in generated().items():
            (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
            (ROOT / rel).write_text(text)
            print(f"wrote {rel}")
        return 0
    bad = stale()
    for rel in bad:
        print(f"{rel} is stale: run `{COMMAND}`", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
