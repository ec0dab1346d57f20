"""The boundary schema (fuzzlock/schema.py): the generated files are current, the knob
encoding is the schema's one rule, and a library built from another schema is refused
with one line that says how to rebuild."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from fuzzlock import native, protocol, schema, schema_gen
from fuzzlock.native import abi, encoding
from fuzzlock.native import load as native_load


def test_generated_files_are_current() -> None:
    stale = schema_gen.stale()
    assert not stale, f"stale: {', '.join(map(str, stale))}: run `{schema_gen.COMMAND}`"


def test_generated_files_say_they_are_generated() -> None:
    for rel in (schema_gen.HEADER, schema_gen.MODULE):
        head = (schema_gen.ROOT / rel).read_text().splitlines()[:3]
        assert any("do not edit" in line for line in head), rel


def test_every_knob_crosses_as_the_index_of_its_value_in_its_codes() -> None:
    for k in schema.KNOBS:
        assert sorted(map(str, k.codes)) == sorted(map(str, k.values)), k.name
        for v in k.values:
            knobs = {**protocol.get("v6.19").knobs, k.name: v}
            vec = encoding.encode_knobs(knobs)
            assert vec[[x.name for x in schema.KNOBS].index(k.name)] == k.codes.index(v)


def test_op_codes_are_distinct_and_dense() -> None:
    assert sorted(o.code for o in schema.OPS) == list(range(len(schema.OPS)))
    assert len({o.c_name for o in schema.OPS}) == len(schema.OPS)


_FAKE = """
int fl_abi_version(void) { return %d; }
unsigned long long fl_schema_hash(void) { return %dULL; }
"""


@pytest.mark.parametrize("bad", ["hash", "abi", "old"])
def test_a_library_from_another_schema_is_refused_with_one_line(
    bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake library")
    src = tmp_path / "fake.c"
    ver, h = abi.ABI_VERSION, abi.SCHEMA_HASH
    if bad == "hash":
        h ^= 1
    elif bad == "abi":
        ver += 1
    src.write_text(_FAKE % (ver, h) if bad != "old" else "int fl_abi_version(void) { return 1; }\n")
    lib = tmp_path / "libfake.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    monkeypatch.setenv(native.ENV_VAR, str(lib))
    native_load.reset_for_tests()
    try:
        assert not native.native_available()
        reason = native.unavailable_reason()
        assert "\n" not in reason and str(lib) in reason
        assert "pip install -e ." in reason and native.ENV_VAR in reason
        with pytest.raises(native.NativeUnavailableError):
            native.load_library()
    finally:
        monkeypatch.delenv(native.ENV_VAR)
        native_load.reset_for_tests()


def test_the_library_exports_the_schema_hash() -> None:
    if not native.native_available():
        pytest.skip(f"C library unavailable: {native.unavailable_reason()}")
    assert native.schema_hash() == schema.schema_hash() == abi.SCHEMA_HASH
    assert ctypes.sizeof(native.load_library().fl_abi_version.restype) > 0


def test_the_c_port_names_invariants_only_through_the_generated_ids() -> None:
    """An invariant id spelled as a string literal in native/ would escape the schema: a
    renamed id would leave the C port raising the old name."""
    ids = set(schema.INVARIANTS)
    root = Path(__file__).resolve().parent.parent / "native"
    spelled = [
        f"{p.name}: {i!r}"
        for p in sorted(root.glob("*.c"))
        for i in sorted(ids)
        if f'"{i}"' in p.read_text()
    ]
    assert spelled == []
