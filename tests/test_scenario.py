"""Scenario JSON (fuzzlock.scenario) and named protocols/knobs (fuzzlock.protocol).

Scenarios and protocols are interfaces (corpus entries, the command line): a scenario
survives a JSON round trip unchanged, bad input gives one line naming the field, and the
knob names and the v6.18/v6.19 defaults are exactly docs/design.md#knob-table.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fuzzlock import protocol, scenario
from fuzzlock.protocol import ProtocolError
from fuzzlock.scenario import ScenarioError

# --- scenario: round trip ----------------------------------------------------------------------

DESIGN_EXAMPLE = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
        {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
    ],
    "threads": [
        {"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}]},
        {"name": "reclaim", "ops": [{"op": "shrink_active_list", "folio": "F"}]},
    ],
}

EVERY_OP = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 8, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 8, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "odd", "start": 64, "pages": 2, "write": False},
        {"op": "mmap", "mm": 0, "vma": "flags", "start": 80, "pages": 2, "locked": True},
        {"op": "mmap", "mm": 0, "vma": "nf", "start": 90, "pages": 1, "dontfork": True},
        {"op": "mmap", "mm": 0, "vma": "wf", "start": 96, "pages": 1, "wipeonfork": True},
        {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
        {"op": "read", "mm": 0, "addr": 17, "folio": ""},
        {"op": "write", "mm": 0, "addr": 18, "value": 1},
        {"op": "bind", "mm": 0, "addr": 18, "folio": "G"},
        {"op": "fork", "mm": 0, "child": 1},
    ],
    "threads": [
        {
            "name": "mover",
            "ops": [
                {"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 2, "mode": ["DONTWAKE"]},
                {
                    "op": "move",
                    "mm": 0,
                    "dst": 34,
                    "src": 18,
                    "len": 1,
                    "mode": ["DONTWAKE", "ALLOW_SRC_HOLES"],
                },
                {"op": "pin", "mm": 0, "addr": 32},
                {"op": "unpin"},
            ],
        },
        {
            "name": "walkers",
            "ops": [
                {"op": "shrink_folio_list", "folio": "F", "ignore_references": True},
                {"op": "page_idle", "folio": "G"},
                {"op": "damon_mkold", "folio": "F"},
                {"op": "damon_young", "folio": "F"},
                {"op": "memory_failure", "folio": "G"},
            ],
        },
        {
            "name": "mm",
            "ops": [
                {"op": "madvise_cold", "mm": 0, "addr": 16, "pages": 2},
                {"op": "madvise_pageout", "mm": 0, "addr": 16, "pages": 2},
                {"op": "madvise_dontneed", "mm": 0, "addr": 20, "pages": 1},
                {"op": "munmap", "mm": 0, "addr": 64, "pages": 2},
                {"op": "exit", "mm": 1},
            ],
        },
    ],
    "max_steps": 5000,
}

MINIMAL = {"threads": [{"ops": []}]}


@pytest.mark.parametrize(
    "obj", [DESIGN_EXAMPLE, EVERY_OP, MINIMAL], ids=["design-example", "every-op", "minimal"]
)
def test_scenario_survives_json_round_trip_unchanged(obj: dict[str, Any]) -> None:
    sc = scenario.from_json(obj)
    again = scenario.loads(sc.dumps())
    assert again == sc
    assert again.dumps() == sc.dumps()  # canonical: the same text every time
    assert scenario.loads(json.dumps(obj)) == sc


def test_loaded_scenario_has_defaults_filled_and_modes_canonical() -> None:
    sc = scenario.from_json(EVERY_OP)
    mmap0 = sc.setup[0]
    assert mmap0 == {
        "op": "mmap",
        "mm": 0,
        "vma": "src",
        "start": 16,
        "pages": 8,
        "uffd": True,
        "write": True,
        "locked": False,
        "dontfork": False,
        "wipeonfork": False,
    }
    assert sc.threads[0][1][1]["mode"] == ["ALLOW_SRC_HOLES", "DONTWAKE"]
    assert sc.thread_names == ["mover", "walkers", "mm"]
    assert sc.max_steps == 5000
    assert scenario.from_json(MINIMAL).thread_names == ["t0"]


# --- scenario: bad input -----------------------------------------------------------------------


def _thread(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"setup": [], "threads": [{"ops": list(ops)}]}


MOVE = {"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}

BAD: list[tuple[str, Any, str]] = [
    ("unknown-op", _thread({"op": "frobnicate"}), "threads[0].ops[0].op"),
    ("missing-field", _thread({k: v for k, v in MOVE.items() if k != "len"}), "'len'"),
    ("wrong-type-int", _thread({**MOVE, "dst": "32"}), "threads[0].ops[0].dst"),
    ("bool-is-not-int", _thread({**MOVE, "src": True}), "threads[0].ops[0].src"),
    (
        "wrong-type-bool",
        {
            "setup": [{"op": "mmap", "mm": 0, "vma": "a", "start": 1, "pages": 1, "uffd": 1}],
            "threads": [{"ops": []}],
        },
        "setup[0].uffd",
    ),
    ("wrong-type-str", _thread({"op": "page_idle", "folio": 3}), "threads[0].ops[0].folio"),
    ("len-zero", _thread({**MOVE, "len": 0}), "threads[0].ops[0].len"),
    ("len-too-big", _thread({**MOVE, "len": 65}), "threads[0].ops[0].len"),
    ("addr-out-of-range", _thread({**MOVE, "dst": 1 << 20}), "threads[0].ops[0].dst"),
    ("unknown-mode", _thread({**MOVE, "mode": ["FAST"]}), "threads[0].ops[0].mode"),
    ("mode-not-list", _thread({**MOVE, "mode": "DONTWAKE"}), "threads[0].ops[0].mode"),
    ("unknown-op-field", _thread({**MOVE, "speed": 1}), "'speed'"),
    ("too-many-threads", {"threads": [{"ops": []}] * 7}, "threads"),
    ("no-threads", {"threads": []}, "threads"),
    ("too-many-ops", _thread(*[{"op": "unpin"}] * 9), "threads[0].ops"),
    ("setup-only-op-in-thread", _thread({"op": "bind", "mm": 0, "addr": 1, "folio": "F"}), "op"),
    ("unbound-folio", _thread({"op": "page_idle", "folio": "F"}), "threads[0].ops[0].folio"),
    (
        "overlapping-vmas",
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 16, "pages": 4},
                {"op": "mmap", "mm": 0, "vma": "b", "start": 19, "pages": 4},
            ],
            "threads": [{"ops": []}],
        },
        "setup[1]",
    ),
    (
        "duplicate-vma-name",
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 16, "pages": 4},
                {"op": "mmap", "mm": 1, "vma": "a", "start": 16, "pages": 4},
            ],
            "threads": [{"ops": []}],
        },
        "setup[1].vma",
    ),
    ("unknown-top-field", {"threads": [{"ops": []}], "seed": 1}, "'seed'"),
    ("setup-not-list", {"setup": {}, "threads": [{"ops": []}]}, "setup"),
    ("op-not-object", _thread(["move"]), "threads[0].ops[0]"),
    ("thread-without-ops", {"threads": [{"name": "t"}]}, "threads[0]"),
    ("empty-thread-name", {"threads": [{"name": "", "ops": []}]}, "threads[0].name"),
    ("bad-max-steps", {"threads": [{"ops": []}], "max_steps": 0}, "max_steps"),
]


@pytest.mark.parametrize("obj, field", [(o, f) for _, o, f in BAD], ids=[n for n, _, _ in BAD])
def test_bad_scenario_gives_one_line_scenario_error_naming_the_field(obj: Any, field: str) -> None:
    with pytest.raises(ScenarioError) as e:
        scenario.loads(json.dumps(obj))
    msg = str(e.value)
    assert "\n" not in msg
    assert field in msg


def test_overlapping_vmas_error_names_both_vmas() -> None:
    bad = BAD[[n for n, _, _ in BAD].index("overlapping-vmas")][1]
    with pytest.raises(ScenarioError, match=r"'b' overlaps 'a'"):
        scenario.from_json(bad)


def test_vmas_in_different_mms_may_share_addresses() -> None:
    sc = scenario.from_json(
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 16, "pages": 4},
                {"op": "mmap", "mm": 1, "vma": "b", "start": 16, "pages": 4},
            ],
            "threads": [{"ops": []}],
        }
    )
    assert len(sc.setup) == 2


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2", "nul"], ids=repr)
def test_text_that_is_not_json_gives_one_line_scenario_error(text: str) -> None:
    with pytest.raises(ScenarioError, match=r"^scenario: not JSON") as e:
        scenario.loads(text)
    assert "\n" not in str(e.value)


def test_json_that_is_not_an_object_gives_one_line_scenario_error() -> None:
    with pytest.raises(ScenarioError, match=r"^scenario: expected an object$"):
        scenario.loads("[1, 2]")


def test_scenario_error_is_a_value_error() -> None:
    assert issubclass(ScenarioError, ValueError)


# --- protocols and knobs -----------------------------------------------------------------------

# docs/design.md#knob-table, copied by hand: knob -> (values, v6.18, v6.19)
DESIGN_KNOBS: dict[str, tuple[tuple[Any, ...], Any, Any]] = {
    "walk.referenced_active_lock": (("none", "trylock", "lock"), "none", "trylock"),
    "walk.page_idle_lock": (("none", "trylock"), "none", "trylock"),
    "walk.damon_lock": (("none", "trylock"), "none", "trylock"),
    "walk.memory_failure_lock": (("none", "lock"), "none", "lock"),
    "walk.recheck_mapping": ((True, False), True, False),
    "walk.check_mapped_after_lock": ((True, False), True, True),
    "walk.trylock_fail_result": ((1, 0), 1, 1),
    "reclaim.unmap_lock": (("trylock", "none"), "trylock", "trylock"),
    "move.anon_vma_lock": ((True, False), True, False),
    "move.lock_order": (("folio-first", "anon-vma-first"), "folio-first", "folio-first"),
    "move.check_exclusive": ((True, False), True, True),
    "move.recheck_dst_under_ptl": ((True, False), True, True),
    "move.recheck_src_after_sleep": ((True, False), True, True),
    "move.pin_check_before_rmap_update": ((True, False), True, True),
    "move.swap_moves_rmap": ((True, False), True, True),
    "move.unmap_before_sleep": ((True, False), True, True),
    "move.batch_same_anon_vma_check": ((True, False), True, False),
    "fork.clear_exclusive": ((True, False), True, True),
    "fork.link_before_copy": ((True, False), True, True),
    "cow.reuse_lock": (("trylock", "none"), "trylock", "trylock"),
    "unmap.zap_before_unlink": ((True, False), True, True),
    "anon_vma.free_handshake": ((True, False), True, True),
}

PATCH1_KNOBS = {
    "walk.referenced_active_lock",
    "walk.page_idle_lock",
    "walk.damon_lock",
    "walk.memory_failure_lock",
    "walk.recheck_mapping",
}
PATCH2_KNOBS = {"move.anon_vma_lock", "move.batch_same_anon_vma_check"}


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (so True is not taken for 1)."""
    return a == b and type(a) is type(b)


def _diff(a: str, b: str) -> set[str]:
    ka, kb = protocol.get(a).knobs, protocol.get(b).knobs
    assert set(ka) == set(kb)
    return {k for k in ka if not _same(ka[k], kb[k])}


def test_protocols_lists_the_four_named_protocols() -> None:
    assert protocol.protocols() == ["v6.18", "v6.19", "patch2-only", "patch1-only"]
    for name in protocol.protocols():
        p = protocol.get(name)
        assert p.name == name and not p.overrides


def test_default_protocol_is_v6_19() -> None:
    assert protocol.get() == protocol.get("v6.19")


@pytest.mark.parametrize("knob", sorted(DESIGN_KNOBS))
def test_design_knob_exists_with_design_values_and_v6_18_v6_19_defaults(knob: str) -> None:
    values, v618, v619 = DESIGN_KNOBS[knob]
    k = protocol.KNOB_BY_NAME[knob]
    assert set(k.values) == set(values)
    assert all(any(_same(v, w) for w in k.values) for v in values)
    assert _same(protocol.get("v6.18").knobs[knob], v618)
    assert _same(protocol.get("v6.19").knobs[knob], v619)
    assert _same(k.v6_18, v618) and _same(k.v6_19, v619)


def test_every_protocol_sets_every_knob_to_an_allowed_value() -> None:
    for name in protocol.protocols():
        knobs = protocol.get(name).knobs
        assert set(knobs) == set(protocol.KNOB_BY_NAME)
        for k, v in knobs.items():
            assert any(_same(v, a) for a in protocol.KNOB_BY_NAME[k].values), (name, k, v)


def test_v6_18_and_v6_19_differ_exactly_in_the_two_patches_knobs() -> None:
    assert _diff("v6.18", "v6.19") == PATCH1_KNOBS | PATCH2_KNOBS


def test_patch2_only_differs_from_v6_18_exactly_in_move_anon_vma_lock_and_batch_check() -> None:
    assert _diff("v6.18", "patch2-only") == PATCH2_KNOBS
    p2, v619 = protocol.get("patch2-only").knobs, protocol.get("v6.19").knobs
    assert all(_same(p2[k], v619[k]) for k in PATCH2_KNOBS)


def test_patch1_only_differs_from_v6_18_exactly_in_the_walker_folio_lock_knobs() -> None:
    assert _diff("v6.18", "patch1-only") == PATCH1_KNOBS
    p1, v619 = protocol.get("patch1-only").knobs, protocol.get("v6.19").knobs
    assert all(_same(p1[k], v619[k]) for k in PATCH1_KNOBS)


def test_knob_override_changes_the_knob_and_the_name() -> None:
    p = protocol.get("v6.19", {"move.anon_vma_lock": "true", "walk.trylock_fail_result": 0})
    assert p.knobs["move.anon_vma_lock"] is True
    assert _same(p.knobs["walk.trylock_fail_result"], 0)
    assert p.name == "v6.19+move.anon_vma_lock=true+walk.trylock_fail_result=0"
    # overriding with the base value is no override
    assert protocol.get("v6.19", {"move.anon_vma_lock": False}) == protocol.get("v6.19")


def test_protocol_survives_json_round_trip() -> None:
    p = protocol.get("patch2-only", {"move.lock_order": "anon-vma-first"})
    again = protocol.from_json(json.loads(json.dumps(p.to_json())))
    assert again == p and again.name == p.name and dict(again.knobs) == dict(p.knobs)


BAD_PROTOCOLS: list[tuple[str, Any, str]] = [
    ("unknown-protocol", lambda: protocol.get("v6.20"), "'v6.20'"),
    ("unknown-knob", lambda: protocol.get("v6.19", {"move.teleport": True}), "'move.teleport'"),
    (
        "bad-value",
        lambda: protocol.get("v6.19", {"move.anon_vma_lock": "sometimes"}),
        "move.anon_vma_lock",
    ),
    (
        "bad-int-value",
        lambda: protocol.get("v6.19", {"walk.trylock_fail_result": 2}),
        "walk.trylock_fail_result",
    ),
    (
        "bool-for-enum",
        lambda: protocol.get("v6.19", {"walk.page_idle_lock": True}),
        "walk.page_idle_lock",
    ),
    ("knob-arg-without-value", lambda: protocol.parse_knob_arg("move.anon_vma_lock"), "--knob"),
    ("knob-arg-unknown", lambda: protocol.parse_knob_arg("nope=1"), "'nope'"),
    ("json-not-object", lambda: protocol.from_json(["v6.19"]), "protocol"),
    (
        "json-knobs-not-object",
        lambda: protocol.from_json({"name": "v6.19", "knobs": []}),
        "protocol.knobs",
    ),
]


@pytest.mark.parametrize(
    "call, word", [(c, w) for _, c, w in BAD_PROTOCOLS], ids=[n for n, _, _ in BAD_PROTOCOLS]
)
def test_bad_protocol_knob_or_value_gives_one_line_protocol_error(call: Any, word: str) -> None:
    with pytest.raises(ProtocolError) as e:
        call()
    msg = str(e.value)
    assert "\n" not in msg
    assert word in msg


def test_unknown_protocol_error_lists_the_known_protocols() -> None:
    with pytest.raises(ProtocolError, match=r"v6\.18, v6\.19, patch2-only, patch1-only"):
        protocol.get("v5.15")


def test_bad_value_error_lists_the_allowed_values() -> None:
    with pytest.raises(ProtocolError, match=r"not one of none, trylock, lock$"):
        protocol.get("v6.18", {"walk.referenced_active_lock": "spin"})


def test_knob_arg_parses_command_line_text() -> None:
    assert protocol.parse_knob_arg("move.anon_vma_lock=false") == ("move.anon_vma_lock", False)
    assert protocol.parse_knob_arg(" walk.trylock_fail_result = 0") == (
        "walk.trylock_fail_result",
        0,
    )
    assert protocol.parse_knob_arg("cow.reuse_lock=none") == ("cow.reuse_lock", "none")


def test_protocols_and_knobs_are_introspectable_from_the_package() -> None:
    import fuzzlock

    assert fuzzlock.protocols() == ["v6.18", "v6.19", "patch2-only", "patch1-only"]
    assert {k.name for k in fuzzlock.knobs()} >= {"move.anon_vma_lock", "walk.recheck_mapping"}


def test_two_forks_to_one_child_id_are_a_malformed_scenario() -> None:
    import pytest

    from fuzzlock import scenario

    base = {"setup": [{"op": "mmap", "mm": 0, "vma": "a", "start": 16, "pages": 4}]}
    fork = {"op": "fork", "mm": 0, "child": 1}
    with pytest.raises(scenario.ScenarioError, match=r"threads\[1\]\.ops\[0\]\.child"):
        scenario.from_json({**base, "threads": [{"ops": [fork]}, {"ops": [fork]}]})
    with pytest.raises(scenario.ScenarioError, match="already exists"):
        scenario.from_json({**base, "threads": [{"ops": [{**fork, "child": 0}]}]})
    scenario.from_json({**base, "threads": [{"ops": [fork]}, {"ops": [{**fork, "child": 2}]}]})
