"""Manifest and index schemas give clear, located errors; ids and paths cannot escape a zoo."""

from __future__ import annotations

import copy
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nucgan.zoo import ZooError
from nucgan.zoo.manifest import INDEX_FORMAT, validate_index, validate_manifest
from nucgan.zoo.names import ID_RE, check_id, check_relpath, parse_ref, version_key

SHA = "a" * 64
MODEL = {
    "format": "nucgan-zoo-manifest/1", "kind": "model", "id": "m", "version": "1", "description": "d",
    "license": "MIT", "authors": ["a"], "generator": {"name": "chain3", "config": {"in_channels": 5}},
    "input": {"channels": 4, "merged": True, "gap": 2, "normalization": {"method": "x"}},
    "weights": {"file": "generator.safetensors", "format": "safetensors", "sha256": SHA, "size": 10,
                "dtype": "float32"},
    "training": {"data": None, "split": None, "steps": 1, "seed": 0, "command": "nucgan train"},
    "metrics": None, "test": {"file": "test.safetensors", "sha256": SHA, "size": 1, "atol": 0.001, "mode": "eval"},
    "card": {"file": "README.md", "sha256": SHA, "size": 1}, "cover": None,
}


def _broken(path: str, value: object) -> dict:
    doc = copy.deepcopy(MODEL)
    *parents, last = path.split(".")
    target = doc
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return doc


def test_valid_model_manifest_passes() -> None:
    assert validate_manifest(copy.deepcopy(MODEL), "m.json")["id"] == "m"


@pytest.mark.parametrize("path, value, message", [
    ("license", KeyError, "license: missing"),
    ("weights.sha256", "abc", "weights.sha256: expected 64 lower-case hex characters"),
    ("weights.format", "pickle", "weights.format: expected 'safetensors'"),
    ("weights.file", "generator.pt", "weights.file: must be a .safetensors file"),
    ("weights.file", "/etc/passwd.safetensors", "weights.file: unsafe path"),
    ("weights.size", -1, "weights.size: must be >= 0"),
    ("input.channels", "4", "input.channels: expected an integer"),
    ("input.merged", 1, "input.merged: expected true or false"),
    ("input.normalization", KeyError, "input.normalization: missing"),
    ("test.atol", 0, "test.atol: must be > 0"),
    ("authors", [], "authors: needs at least 1 item"),
    ("lisence", "MIT", "lisence: unknown field"),
    ("id", "../x", "invalid id '../x'"),
    ("version", "v1", "version: expected a dotted number"),
    ("training.steps", True, "training.steps: expected an integer"),
    ("generator.name", "Chain 3", "generator.name: expected a registry name"),
])
def test_schema_errors_name_the_file_and_the_field(path: str, value: object, message: str) -> None:
    with pytest.raises(ZooError) as info:
        validate_manifest(_broken(path, value), "zoo/m/1/manifest.json")
    text = str(info.value)
    assert text.startswith("zoo/m/1/manifest.json: invalid manifest: ") and message in text
    assert "\n" not in text


def test_several_problems_are_listed_in_one_line() -> None:
    doc = _broken("license", KeyError)
    doc["authors"] = "me"
    doc["weights"]["dtype"] = "int8"
    text = str(pytest.raises(ZooError, validate_manifest, doc, "m.json").value)
    assert "license: missing" in text and "authors: expected a list" in text and "weights.dtype" in text


def test_wrong_format_or_kind_says_so_first() -> None:
    with pytest.raises(ZooError, match="format must be 'nucgan-zoo-manifest/1'.*newer nucgan"):
        validate_manifest({**MODEL, "format": "nucgan-zoo-manifest/2"}, "m")
    with pytest.raises(ZooError, match="kind must be one of model, placeholder"):
        validate_manifest({**MODEL, "kind": "dataset"}, "m")
    with pytest.raises(ZooError, match="expected a JSON object"):
        validate_manifest([MODEL], "m")


def test_placeholder_needs_reason_and_recipe_not_weights() -> None:
    holder = {k: MODEL[k] for k in ("format", "id", "version", "description", "license", "authors", "generator",
                                    "input")}
    holder.update(kind="placeholder", reason="data not available",
                  recipe={"train": "nucgan train ...", "publish": "nucgan zoo publish ..."})
    validate_manifest(copy.deepcopy(holder), "p")
    with pytest.raises(ZooError, match="weights: unknown field"):
        validate_manifest({**holder, "weights": MODEL["weights"]}, "p")
    with pytest.raises(ZooError, match="recipe.publish: missing"):
        validate_manifest({**holder, "recipe": {"train": "x"}}, "p")


def test_index_schema_and_duplicates() -> None:
    row = {"id": "m", "version": "1", "kind": "model", "path": "m/1", "manifest_sha256": SHA, "description": ""}
    validate_index({"format": INDEX_FORMAT, "entries": [row]}, "i")
    with pytest.raises(ZooError, match=r"entries\[1\]: duplicate m@1"):
        validate_index({"format": INDEX_FORMAT, "entries": [row, dict(row)]}, "i")
    with pytest.raises(ZooError, match=r"entries\[0\]\.path: unsafe path 'm/\.\./\.\.'"):
        validate_index({"format": INDEX_FORMAT, "entries": [{**row, "path": "m/../.."}]}, "i")
    with pytest.raises(ZooError, match="i: invalid index: format must be"):
        validate_index({"format": "zoo/9", "entries": []}, "i")
    with pytest.raises(ZooError, match="not valid JSON"):
        from nucgan.zoo.manifest import parse_json

        parse_json(b"{nope", "index.json")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("az09._-/\\@:~ .A")), max_size=12))
def test_accepted_ids_are_safe_path_segments(text: str) -> None:
    try:
        ref = parse_ref(text)
    except ZooError:
        return
    assert ID_RE.match(ref.id) and ".." not in ref.id and "/" not in ref.id and "\\" not in ref.id
    assert ref.id not in (".", "..") and not ref.id.startswith((".", "-"))
    assert str(ref) == text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b.json", "..", ".", "", "x..y", "C", "/", "\\", "~"]), min_size=1,
                max_size=4))
def test_accepted_relative_paths_stay_inside(parts: list[str]) -> None:
    path = "/".join(parts)
    try:
        check_relpath(path, "p")
    except ZooError:
        return
    assert not path.startswith("/") and all(p not in ("", ".", "..") and ".." not in p for p in path.split("/"))
    assert "\\" not in path


def test_versions_sort_numerically() -> None:
    assert sorted(["1.10", "1.9", "2", "1.9.1"], key=version_key) == ["1.9", "1.9.1", "1.10", "2"]
    with pytest.raises(ZooError, match="invalid id"):
        check_id("x" * 101)
    assert json.dumps(check_id("dsb2018-3x-k7"))
    assert re.match(ID_RE, "a.b_c-1")


@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"steps": ' + b"9" * 5000 + b"}"], ids=["nested", "digits"])
def test_pathological_json_is_a_zoo_error(data: bytes) -> None:
    """Deep nesting (RecursionError) and integers beyond Python's digit limit end in one ZooError line."""
    from nucgan.zoo.manifest import parse_json

    with pytest.raises(ZooError, match=r"^m\.json: not valid JSON") as info:
        parse_json(data, "m.json")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key", ["bad\nkey", "tab\there", "\u2028", "\ud800", "x" * 500])
def test_unknown_keys_are_escaped_onto_one_line(key: str) -> None:
    """An unknown key is shown escaped (repr) and cut short, so the message stays one printable line."""
    text = str(pytest.raises(ZooError, validate_manifest, {**copy.deepcopy(MODEL), key: 1}, "m.json").value)
    assert "unknown field" in text and text.isprintable() and len(text) < 1000
    text.encode("utf-8")


@pytest.mark.parametrize("path, value, words", [
    ("description", "nuclei \ud800", "description: not valid Unicode text"),
    ("authors", ["me", "\udfff"], r"authors[1]: not valid Unicode text"),
    ("generator.config", {"k": ["ok", "\ud800"]}, "generator.config.k[1]: not valid Unicode text"),
    ("generator.config", {"\ud800": 1}, r"generator.config.'\ud800': key is not valid Unicode text"),
    ("input.extra_note", "\ud800", "input.extra_note: not valid Unicode text"),  # open object, unchecked key
    ("training.data", {"a": {"b": "\ud800"}}, "training.data.a.b: not valid Unicode text"),
])
def test_strings_that_cannot_be_written_as_utf8_are_refused(path: str, value: object, words: str) -> None:
    """A lone surrogate (JSON '\\ud800') anywhere in a manifest is refused at validation, naming the field."""
    text = str(pytest.raises(ZooError, validate_manifest, _broken(path, value), "m.json").value)
    assert text.startswith("m.json: invalid manifest: ") and words in text
    assert text.isprintable()
    text.encode("utf-8")


def test_index_with_unencodable_description_is_refused() -> None:
    """The index's descriptions are printed by `zoo list`: a lone surrogate there is refused too."""
    from nucgan.zoo.manifest import parse_json

    raw = json.dumps({"format": INDEX_FORMAT, "entries": [
        {"id": "m", "version": "1", "kind": "model", "path": "m/1", "manifest_sha256": SHA,
         "description": "x \ud800"}]}).encode("ascii")
    with pytest.raises(ZooError, match=r"index.json: invalid index: entries\[0\]\.description: not valid Unicode"):
        validate_index(parse_json(raw, "index.json"), "index.json")


def test_values_too_large_to_print_are_still_reported() -> None:
    """A value whose repr fails (an int beyond the digit limit) is described, not a crash."""
    text = str(pytest.raises(ZooError, validate_manifest, {**MODEL, "format": 10 ** 5000}, "m").value)
    assert "format must be" in text and "too large to show" in text
    text = str(pytest.raises(ZooError, validate_manifest, _broken("weights.size", -10 ** 5000), "m").value)
    assert "weights.size: must be >= 0" in text and "too large to show" in text
    with pytest.raises(ZooError, match="invalid id <int too large to show>|expected a non-empty id"):
        check_id(10 ** 5000)


def test_a_placeholder_is_not_served_for_another_version() -> None:
    """`id@N` never answers with a placeholder of another version: unknown version, listing the known ones."""
    from nucgan.zoo.index import lookup, shipped_zoo, unknown_error

    entries = json.loads((shipped_zoo() / "index.json").read_text("utf-8"))["entries"]
    holder = next(e for e in entries if e["kind"] == "placeholder")
    result = lookup(parse_ref(f"{holder['id']}@9"), [str(shipped_zoo())])
    assert result.found is None and result.placeholder is None
    assert f"{holder['id']} has no version 9; available: {holder['version']}" in str(unknown_error(result))
    result = lookup(parse_ref(f"{holder['id']}@{holder['version']}"), [str(shipped_zoo())])
    assert result.placeholder is not None and result.placeholder.entry["version"] == holder["version"]
    assert lookup(parse_ref(holder["id"]), [str(shipped_zoo())]).placeholder is not None
