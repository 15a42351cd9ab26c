"""Malformed matrix files: one-line errors naming file, line and what is wrong."""
import pytest

from matrix.model import MatrixError, load

from helpers import edit, line_of


def error(d) -> str:
    with pytest.raises(MatrixError) as e:
        load(d)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_port_out_of_range(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "rest: {port: 8080}", "rest: {port: 80800}")
    assert error(matrix_copy) == f"{f}:{line_of(f, '80800')}: apps.lnd.ports.rest.port: 80800 is out of range 1..65535"


def test_wrong_type(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "p2p: {port: 9735}", "p2p: {port: nine}")
    assert error(matrix_copy) == (f"{f}:{line_of(f, 'port: nine')}: apps.lnd.ports.p2p.port: "
                                  "expected an integer, got str 'nine'")


def test_a_capability_with_its_cap_prefix_is_named(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "caps: [DAC_OVERRIDE]", "caps: [CAP_DAC_OVERRIDE]")
    assert error(matrix_copy) == (f"{f}:{line_of(f, 'CAP_DAC_OVERRIDE')}: apps.electrumx.caps[0]: 'CAP_DAC_OVERRIDE' "
                                  "is not a capability name such as DAC_OVERRIDE (no CAP_ prefix)")


def test_unknown_field_is_named_with_the_known_ones(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "    grace: lnd\n", "    grace: lnd\n    graec: 10\n")
    msg = error(matrix_copy)
    assert msg.startswith(f"{f}:{line_of(f, 'graec')}: apps.lnd.graec: unknown field (known: title, ")


def test_missing_required_field(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "    status_url: http://127.0.0.1:9080/status\n", "")
    msg = error(matrix_copy)
    assert msg == f"{f}:{line_of(f, 'title: LND')}: apps.lnd: missing required field 'status_url'"


def test_duplicate_key(matrix_copy):
    f = matrix_copy / "events.yaml"
    edit(f, "  soak:", "  fresh_install: {title: again, level: 1, needs: [node]}\n  soak:")
    msg = error(matrix_copy)
    assert msg == f"{f}:{line_of(f, 'title: again')}: events.fresh_install: duplicate key (first at line {line_of(f, 'Fresh install')})"


def test_yaml_syntax_error(matrix_copy):
    f = matrix_copy / "levels.yaml"
    edit(f, "  4: {title: Survives reboot, events: [reboot_survival, start_order]}",
         "  4: {title: Survives reboot, events: [reboot_survival, start_order}")
    msg = error(matrix_copy)
    assert msg.startswith(f"{f}:{line_of(f, '  4: ')}: invalid YAML:")


def test_row_length_mismatch(matrix_copy):
    f = matrix_copy / "cells.yaml"
    edit(f, '  tor_onion:            [MUST, MUST, MUST, "-",  MUST, MUST, MUST]', "  tor_onion: [MUST, MUST]")
    assert error(matrix_copy) == (f"{f}:{line_of(f, 'tor_onion')}: cells.tor_onion: 2 entries for 7 apps "
                                  "(bitcoin-knots, bitcoin-core, lnd, electrumx, btcpay, mempool, fedimint)")


def test_bad_requirement_value(matrix_copy):
    f = matrix_copy / "cells.yaml"
    edit(f, "  soak:                 [MUST, MUST,", "  soak:                 [MUST, MAYBE,")
    assert error(matrix_copy) == f"{f}:{line_of(f, 'MAYBE')}: cells.soak[1]: expected one of MUST, SHOULD, -; got 'MAYBE'"


def test_cross_reference_unknown_grace(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "grace: lnd\n", "grace: slow\n")
    assert error(matrix_copy) == (f"{f}:{line_of(f, 'grace: slow')}: apps.lnd.grace: unknown grace class 'slow' "
                                  "(stop_grace has: bitcoin, lnd, electrumx, database, btcpay, default)")


def test_unknown_dependency(matrix_copy):
    f = matrix_copy / "apps.yaml"
    edit(f, "depends: [bitcoin, lnd]", "depends: [bitcoin, lightning]")
    assert "apps.btcpay.depends: 'lightning' is neither a provided capability nor an app" in error(matrix_copy)


def test_level_disagreement(matrix_copy):
    f = matrix_copy / "events.yaml"
    edit(f, "level: 7, needs: [soak]", "level: 6, needs: [soak]")
    assert error(matrix_copy) == (f"{f}:{line_of(f, 'Soak,')}: events.soak.level: level 6 disagrees with "
                                  "levels.yaml (first listed at level 7)")


def test_unknown_capability(matrix_copy):
    f = matrix_copy / "events.yaml"
    edit(f, "needs: [soak]", "needs: [time]")
    assert "events.soak.needs[0]: expected one of node, destructive" in error(matrix_copy)


def test_empty_and_missing_files(matrix_copy):
    (matrix_copy / "levels.yaml").write_text("")
    assert error(matrix_copy) == f"{matrix_copy / 'levels.yaml'}:1: file is empty"
    (matrix_copy / "levels.yaml").unlink()
    assert error(matrix_copy).startswith(f"{matrix_copy / 'levels.yaml'}: cannot read:")


def test_a_level_resting_on_nothing_and_a_bad_chaos_flag(matrix_copy):
    f = matrix_copy / "levels.yaml"
    edit(f, "events: [], chaos: true}", "events: []}")
    assert error(matrix_copy) == (f"{f}:{line_of(f, '  5: ')}: levels.5.events: a level rests on events, on the "
                                  "chaos suite (chaos: true) or both; this one on nothing")
    edit(f, "events: []}", "events: [], chaos: maybe}")
    assert error(matrix_copy).startswith(f"{f}:{line_of(f, '  5: ')}: levels.5.chaos: expected")
