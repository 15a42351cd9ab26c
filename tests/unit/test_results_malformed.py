"""The results file read by the gate, report and prove: each malformed form is one line naming the
record (cells[i], targets[i]) and what is wrong with it."""
import json

import pytest

from harness import results


def doc(**change):
    d = {"version": 1, "targets": [{"name": "vm0", "url": "vm://vm0", "kind": "vm"}],
         "selection": {"apps": None, "events": None},
         "cells": [{"app": "lnd", "event": "fresh_install", "verdict": "passed", "node": "vm0",
                    "reason": "", "requirement": "MUST", "nodeid": "t::c[lnd-fresh_install]"}] * 3}
    d.update(change)
    return d


def cell(**change):
    return {**doc()["cells"][0], **change}


BAD = [
    ("not an object", [1, 2], "not a results file (no 'cells' list)"),
    ("cells not a list", doc(cells={"a": 1}), "not a results file (no 'cells' list)"),
    ("version 99", doc(version=99), "unknown format version 99: this harness reads version 1 "
                                    "(use the harness that wrote the file)"),
    ("version a string", doc(version="1"), 'unknown format version "1": this harness reads version 1 '
                                           "(use the harness that wrote the file)"),
    ("targets an object", doc(targets={"name": "vm0"}), "'targets' is dict {\"name\": \"vm0\"}, not a list"),
    ("target with no name", doc(targets=[{"url": "vm://vm0"}]),
     "targets[0] has no name: a target is an object with a 'name' string"),
    ("target a string", doc(targets=[{"name": "a"}, "vm1"]),
     "targets[1] has no name: a target is an object with a 'name' string"),
    ("target name a number", doc(targets=[{"name": 7}]),
     "targets[0] has no name: a target is an object with a 'name' string"),
    ("selection a list", doc(selection=["lnd"]), "'selection' is list [\"lnd\"], not an object"),
    ("selection apps a string", doc(selection={"apps": "lnd", "events": None}),
     "selection.apps is str \"lnd\": null (all) or a list of names"),
    ("selection events of numbers", doc(selection={"apps": None, "events": [1]}),
     "selection.events is list [1]: null (all) or a list of names"),
    ("a cell that is a number", doc(cells=[cell(), 5]),
     "cells[1] is int 5: a record is an object with app, event and verdict"),
    ("a cell that is null", doc(cells=[None]),
     "cells[0] is null: a record is an object with app, event and verdict"),
    ("a cell that is a list", doc(cells=[cell(), cell(), ["lnd"]]),
     "cells[2] is list [\"lnd\"]: a record is an object with app, event and verdict"),
    ("a cell without verdict", doc(cells=[{"app": "lnd", "event": "soak"}]), "cells[0] lacks verdict"),
    ("app a number", doc(cells=[cell(app=3)]), "cells[0] app is int 3, not a string"),
    ("node null", doc(cells=[cell(), cell(node=None)]), "cells[1] node is null, not a string"),
    ("reason a list", doc(cells=[cell(reason=["x"])]), "cells[0] reason is list [\"x\"], not a string"),
    ("unknown verdict", doc(cells=[cell(verdict="ok")]),
     "cells[0] verdict 'ok' is none of passed, failed, not_run"),
    ("parts_not_run a string", doc(cells=[cell(parts_not_run="tor")]),
     "cells[0] parts_not_run is str \"tor\", not a list of strings"),
]


@pytest.mark.parametrize("d, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_is_named(d, message):
    assert results.malformed(d) == message


def test_a_well_formed_file_passes():
    assert results.malformed(doc()) == ""
    assert results.malformed(doc(selection={}, targets=[])) == ""


def test_the_version_is_required_only_when_asked():
    d = doc()
    del d["version"]
    assert results.malformed(d) == ""
    assert results.malformed(d, versioned=True) == ("no format version: this harness reads version 1, "
                                                    "as its pytest plugin writes it")


def test_read_names_the_file(tmp_path):
    f = tmp_path / "cells.json"
    f.write_text(json.dumps(doc(cells=[cell(), 5])))
    with pytest.raises(ValueError) as e:
        results.read(f)
    assert str(e.value) == f"{f}: cells[1] is int 5: a record is an object with app, event and verdict"
