"""The split build's sources: hls4ml's top function cut at its layer calls. Each layer call (with the weight loads
of its arrays) becomes a wrapper function in a unit of its own, `fastcsim_layer_N.cpp`, which holds only the
typedefs and config structs of defines.h and parameters.h that call reaches (the closure of the names it uses, in
their original order), so its text changes only when that layer's types change; myproject.cpp calls the wrappers
and includes the weights, not the configs (fastcsim_main.h); fastcsim_common.h holds every include of the C build.
What parameters.h defines rather than declares, with external linkage, is defined in the first unit that needs it
only (Chunk.elsewhere). Anything outside the shapes known here raises NotSplit (split.py builds the units).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

COMMON = "fastcsim_common.h"
MAIN_PARAMS = "fastcsim_main.h"
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_CALL = re.compile(r'^(\s*)nnet::(\w+)<(.+)>\(((?:[\w\s,]|"[\w.]*")*)\);(\s*//.*)?$')
_ARRAY = re.compile(r"^\s*(\w+)\s+(\w+)\s*\[([^\]]+)\]\s*[;,)]?\s*$")
_STREAM = re.compile(r"^\s*hls::stream<(\w+)>\s*&?\s*(\w+)(?:\(\"\w*\"\))?\s*[;,)]?\s*$")
_INCLUDE = re.compile(r"^\s*#\s*include\s+([<\"][^>\"]+[>\"])")


class NotSplit(Exception):
    """The project's C build does not have the shape the split build knows (the caller builds it unsplit)."""


def count_layers(top: str) -> int:
    """The layer calls of a top function's text (myproject.cpp), as the split build counts its layer units (a weight
    load, a call with a file name, goes with its layer)."""
    return sum(1 for line in top.splitlines() if (m := _CALL.match(line)) and '"' not in m.group(4))


@dataclass(frozen=True)
class Chunk:
    """A top-level declaration of defines.h or parameters.h: the names it defines and its text."""

    names: frozenset[str]
    text: str
    owner: str | None = None  # an out-of-class member definition: it goes wherever its struct goes
    always: bool = False  # not a declaration split knows: in every TU
    # A definition with external linkage (a static member's, or a namespace-scope variable's: hls4ml's Transpose
    # writes both in parameters.h): what a unit holds instead when another unit already holds the definition (an
    # extern declaration, or nothing for a member: its class declares it), so it is defined exactly once.
    elsewhere: str | None = None


@dataclass(frozen=True)
class Unit:
    """A translation unit of the split build, and once keyed, its object's cache key and whether it is cached."""

    name: str  # the .cpp, relative to the tree
    text: str
    key: str = ""
    cached: bool = False
    local: bool = False  # includes the project's own headers (defines.h, the weights): they are in its key


@dataclass(frozen=True)
class Plan:
    """The split's units (the layers', then the top function's and the bridge's), and how many are layers."""

    units: tuple[Unit, ...]
    layers: int


class Variable(NamedTuple):
    """An array or a stream the top function passes to its layers."""

    element_type: str
    stream: bool

    def parameter(self, name: str) -> str:
        """How a wrapper function takes it."""
        return f"hls::stream<{self.element_type}> &{name}" if self.stream else f"{self.element_type} *{name}"


class LayerCall(NamedTuple):
    """A line of the top function that calls an nnet:: function: a layer, or a weight load (a file name passed)."""

    indent: str
    function: str
    template: str
    arguments: tuple[str, ...]  # as written, file names included
    comment: str | None  # the line's trailing comment

    @property
    def variables(self) -> list[str]:
        """The arrays and streams it passes: its wrapper's parameters (a file name stays in the wrapper's call)."""
        return [argument for argument in self.arguments if not argument.startswith('"')]

    @property
    def loads_weights(self) -> bool:
        return any(argument.startswith('"') for argument in self.arguments)


class Wrapper(NamedTuple):
    """A function of a layer's unit that makes one call of the top function, which then calls it instead."""

    declaration: str  # `void fastcsim_<unit>_<n>(<parameters>)`
    definition: str
    call: str  # the top function's line that replaces the original call
    types: str  # the template arguments and variable types it uses: what its unit's closure starts from


def _chunks(text: str) -> tuple[list[str], list[Chunk]]:
    """The #include lines and the top-level declarations of a generated header (include guard and comments
    left out)."""
    includes, chunks, current, depth = [], [], [], 0
    for line in text.splitlines():
        stripped = line.strip()
        if not current:
            if not stripped or stripped.startswith("//"):
                continue
            match = _INCLUDE.match(stripped)
            if match:
                includes.append(match.group(1))
                continue
            if re.match(r"#\s*(ifndef|endif)\b", stripped) or re.match(r"#\s*define\s+\w+_H_?\s*$", stripped):
                continue  # the include guard
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0 and (stripped.endswith(";") or stripped.startswith("#")):
            chunks.append(_chunk("\n".join(current)))
            current = []
    if current or depth:
        raise NotSplit("a generated header ends inside a declaration")
    return includes, chunks


# the declarator of a definition: a (qualified) name, maybe in parentheses (a reference to an array), maybe an array
_DECLARATOR = re.compile(r"(?:\(\s*[&*]\s*)?((?:\w+(?:<[^<>;]*>)?\s*::\s*)*)(\w+)\s*\)?\s*(?:\[[^\]]*\]\s*)*$")


def _chunk(text: str) -> Chunk:
    """A declaration and the names it defines: a #define, a struct, a typedef, a definition, or else one kept in
    every unit."""
    head = text.lstrip()
    if head.startswith("#define"):
        return Chunk(frozenset({head.split()[1].split("(")[0]}), text)
    match = re.match(r"struct\s+(\w+)", head)
    if match:
        return Chunk(frozenset({match.group(1)}), text)
    match = re.match(r"typedef\s[^;{]*?\b(\w+)\s*;\s*$", head, re.S)
    if match:
        return Chunk(frozenset({match.group(1)}), text)
    return _definition(text) or Chunk(frozenset(), text, always=True)


def _definition(text: str) -> Chunk | None:
    """A variable's definition (`T name[n] = {...};`, `T name;`) or a static member's (`T cls::name = v;`),
    with what another unit holds in its place; None for anything else (a function, a template, a declaration)."""
    head = " ".join(text.split())
    declaration = head.split("=", 1)[0] if "=" in head else head.rstrip(";")
    function = "(" in re.sub(r"\(\s*&", "", declaration)  # not the parenthesis of a reference to an array
    if function or re.match(r"(extern|template|using|namespace)\b", head):
        return None
    match = _DECLARATOR.search(declaration.strip())
    specifiers = declaration[: match.start()].strip() if match else ""
    if not match or not specifiers:
        return None
    qualifiers, name = match.group(1), match.group(2)
    if qualifiers:  # a static data member: the class's linkage, defined once; its class declares it for the rest
        owner = re.match(r"\w+", qualifiers).group(0)
        return Chunk(frozenset(), text, owner=owner, elsewhere="")
    if _internal(specifiers, declaration):
        return Chunk(frozenset({name}), text)  # each unit its own copy, as a header included twice would give
    return Chunk(frozenset({name}), text, elsewhere=f"extern {declaration.strip()};")


def _internal(specifiers: str, declaration: str) -> bool:
    """A namespace-scope variable with internal linkage: static, or a const object (not a pointer to const)."""
    if re.match(r"static\b", specifiers):
        return True
    if "*" in declaration:
        return bool(re.search(r"\*\s*const\s+\w+\s*(\[[^\]]*\]\s*)*$", declaration.strip()))
    return bool(re.search(r"\b(const|constexpr)\b", specifiers))


def _closure(start: str, chunks: list[Chunk]) -> list[Chunk]:
    """The chunks the names in `start` reach, transitively, in their original order."""
    by_name = {name: i for i, chunk in enumerate(chunks) for name in chunk.names}
    owned: dict[str, list[int]] = {}  # a struct's name -> its out-of-class member definitions
    for i, chunk in enumerate(chunks):
        if chunk.owner:
            owned.setdefault(chunk.owner, []).append(i)
    chosen = {i for i, chunk in enumerate(chunks) if chunk.always}
    todo = set(_IDENT.findall(start)) | {name for i in chosen for name in _IDENT.findall(chunks[i].text)}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in ([by_name[name]] if name in by_name else []) + owned.get(name, []):
            if i not in chosen:
                chosen.add(i)
                todo |= set(_IDENT.findall(chunks[i].text)) - seen
    return [chunks[i] for i in sorted(chosen)]


def _once(needed: list[Chunk], defined: set[int]) -> list[str]:
    """The text of a unit's chunks, each definition with external linkage in the first unit that needs it only:
    the others get what stands for it elsewhere (hls4ml's one parameters.h in one unit defined each once)."""
    texts = []
    for chunk in needed:
        if chunk.elsewhere is None or id(chunk) not in defined:
            defined.add(id(chunk))
            texts.append(chunk.text)
        elif chunk.elsewhere:
            texts.append(chunk.elsewhere)
    return texts


def _passed_variables(top: str, firmware: Path) -> dict[str, Variable]:
    """Every array and stream the top function passes to its layers: its own, and the weights' (as the C
    simulation declares them)."""
    found: dict[str, Variable] = {}
    for line in top.splitlines():
        match = re.match(r"^\s*auto\s*&\s*(\w+)\s*=\s*(\w+)\s*;\s*$", line)  # a Flatten: the same array
        if match and match.group(2) in found:
            found[match.group(1)] = found[match.group(2)]
            continue
        match = _STREAM.match(line)
        if match:
            found[match.group(2)] = Variable(match.group(1), stream=True)
            continue
        match = _ARRAY.match(line)
        if match and match.group(1) not in ("return", "static"):
            found[match.group(2)] = Variable(match.group(1), stream=False)
    weights = firmware / "weights"
    headers = sorted(path for path in weights.iterdir() if path.name.endswith(".h")) if weights.is_dir() else []
    for header in headers:
        text = header.read_text()
        simulated = text.split("#ifndef __SYNTHESIS__", 1)[1].split("#else", 1)[0] if "__SYNTHESIS__" in text else ""
        for line in simulated.splitlines():
            match = _ARRAY.match(line)
            if match:
                found[match.group(2)] = Variable(match.group(1), stream=False)
    return found


def _configs(defines: str, parameters: str) -> tuple[list[str], list[str], list[Chunk]]:
    """defines.h's and parameters.h's includes, and their declarations (defines.h's, then the layer configs);
    NotSplit unless each holds only what hls4ml writes there."""
    define_includes, define_chunks = _chunks(defines)
    if any(not chunk.names for chunk in define_chunks):
        raise NotSplit("defines.h holds more than typedefs and #defines")
    marker = "// hls-fpga-machine-learning insert layer-config"
    if parameters.count(marker) != 1:
        raise NotSplit("parameters.h has no layer-config section")
    head, configs = parameters.split(marker)
    parameter_includes, head_chunks = _chunks(head)
    if head_chunks:
        raise NotSplit("parameters.h declares something before its layer configs")
    _, config_chunks = _chunks(configs)
    return define_includes, parameter_includes, define_chunks + config_chunks


def _common_header(project: str, includes: list[str], bridge: str) -> str:
    """fastcsim_common.h: every include of the C build (defines.h's and parameters.h's but the weights, the
    bridge's), once each, in their order; the project's own headers left out."""
    bridge_includes = [_INCLUDE.match(line.strip()).group(1) for line in bridge.splitlines() if _INCLUDE.match(line)]
    common_includes: list[str] = []
    for include in ["<iostream>", *includes, '"hls_stream.h"', *bridge_includes]:
        include = include.replace('"firmware/', '"')
        if include not in common_includes and include not in (f'"{project}.h"', '"defines.h"', '"parameters.h"'):
            common_includes.append(include)
    return "// fastcsim: every include of the project's C build, precompiled once (split.py)\n#pragma once\n" + "".join(
        f"#include {include}\n" for include in common_includes
    )


def _layer_calls(lines: list[str], variables: dict[str, Variable]) -> dict[int, LayerCall]:
    """The top function's nnet:: calls by line number; NotSplit when one passes something split does not know."""
    calls: dict[int, LayerCall] = {}
    for number, line in enumerate(lines):
        match = _CALL.match(line)
        if match:
            indent, function, template, arguments, comment = match.groups()
            every = tuple(argument.strip() for argument in arguments.split(",") if argument.strip())
            call = LayerCall(indent, function, template, every, comment)
            if any(name not in variables for name in call.variables):
                raise NotSplit(f"a layer call passes something split does not know: {line.strip()}")
            calls[number] = call
    return calls


class UnitCalls(NamedTuple):
    """The top function's calls one layer unit makes: its layer call (which names the unit) and its weight loads."""

    layer: int  # the layer call's line
    lines: list[int]  # every call's line, in order


def _unit_calls(calls: dict[int, LayerCall]) -> list[UnitCalls]:
    """The calls grouped by unit, the units in the order of their layer calls: a weight load goes with the layer
    that uses its array (the same types, one unit)."""
    layer_of: dict[str, int] = {}  # an array -> the first layer call that passes it
    for number, call in calls.items():
        if not call.loads_weights:
            for name in call.variables:
                layer_of.setdefault(name, number)
    layer = {
        number: layer_of.get(call.variables[0], number) if call.loads_weights else number
        for number, call in calls.items()
    }
    members: dict[int, list[int]] = {}
    for number in sorted(calls):
        members.setdefault(layer[number], []).append(number)
    return [UnitCalls(number, members[number]) for number in sorted(members)]


def _wrapper(unit: int, position: int, call: LayerCall, variables: dict[str, Variable]) -> Wrapper:
    """The `position`th wrapper function of layer unit `unit`: it takes the call's arrays and streams and makes
    the call with them (a file name passed as written)."""
    names = call.variables
    function = f"fastcsim_{unit}_{position}"
    parameters = ", ".join(variables[name].parameter(f"a{i}") for i, name in enumerate(names))
    declaration = f"void {function}({parameters})"
    renamed = iter(f"a{i}" for i in range(len(names)))
    passed = [argument if argument.startswith('"') else next(renamed) for argument in call.arguments]
    return Wrapper(
        declaration=declaration,
        definition=f"{declaration} {{\n    nnet::{call.function}<{call.template}>({', '.join(passed)});\n}}\n",
        call=f"{call.indent}{function}({', '.join(names)});{call.comment or ''}",
        types=call.template + " " + " ".join(variables[name].element_type for name in names),
    )


def _layer_unit(project: str, unit: int, layer: LayerCall, wrappers: list[Wrapper], text: list[str]) -> Unit:
    """Layer unit `unit`: the declarations its calls reach (`text`), then its wrappers; named after its layer
    call's comment (hls4ml writes the layer's name there) or its function."""
    what = layer.comment.strip().lstrip("/").strip() if layer.comment else layer.function
    return Unit(
        f"firmware/fastcsim_layer_{unit}.cpp",
        f"// fastcsim: {what}, split out of {project}.cpp (split.py)\n"
        f'#include "{COMMON}"\n\n' + "\n".join(text) + "\n\n" + "\n".join(wrapper.definition for wrapper in wrappers),
    )


def _top_source(project: str, lines: list[str], wrappers: dict[int, Wrapper]) -> str:
    """myproject.cpp calling the wrappers (declared before the top function, in the units' order: `wrappers` by
    the line each replaces, in the order they were made), including parameters.h without the configs."""
    top_lines = [
        wrappers[number].call
        if number in wrappers
        else line.replace('#include "parameters.h"', f'#include "{MAIN_PARAMS}"')
        for number, line in enumerate(lines)
    ]
    top = next((i for i, line in enumerate(top_lines) if line.startswith(f"void {project}(")), None)
    if top is None:
        raise NotSplit(f"{project}.cpp has no top function")
    declarations = [wrapper.declaration + ";" for wrapper in wrappers.values()]  # in the units' order
    top_lines[top:top] = ["// fastcsim: the layers, each in its own translation unit (split.py)", *declarations, ""]
    return f'#include "{COMMON}"\n' + "\n".join(top_lines) + "\n"


def plan(tree_dir: str | Path, project: str) -> tuple[Plan, str]:
    """Write the split sources into tree_dir/firmware; return them and the common header's text."""
    tree = Path(tree_dir)
    firmware = tree / "firmware"
    top = (firmware / f"{project}.cpp").read_text()
    bridge = (tree / f"{project}_bridge.cpp").read_text()
    define_includes, parameter_includes, chunks = _configs(
        (firmware / "defines.h").read_text(), (firmware / "parameters.h").read_text()
    )
    weight_includes = [include for include in parameter_includes if include.startswith('"weights/')]
    shared = [include for include in parameter_includes if include not in weight_includes]
    common = _common_header(project, [*define_includes, *shared], bridge)
    variables = _passed_variables(top, firmware)
    lines = top.splitlines()
    calls = _layer_calls(lines, variables)
    units: list[Unit] = []
    wrappers: dict[int, Wrapper] = {}  # by the line of the call each replaces
    defined: set[int] = set()  # the definitions with external linkage some unit already holds
    for unit, group in enumerate(_unit_calls(calls)):
        made = {
            number: _wrapper(unit, position, calls[number], variables) for position, number in enumerate(group.lines)
        }
        wrappers.update(made)
        needed = _closure(" ".join(wrapper.types for wrapper in made.values()), chunks)
        units.append(_layer_unit(project, unit, calls[group.layer], list(made.values()), _once(needed, defined)))
    if not units:
        raise NotSplit(f"{project}.cpp calls no nnet:: layer function")
    main = _top_source(project, lines, wrappers)
    (firmware / MAIN_PARAMS).write_text(
        "// fastcsim: parameters.h without the layer configs (they are in the layers' own units; split.py)\n"
        "#pragma once\n" + "".join(f"#include {include}\n" for include in parameter_includes)
    )
    result = Plan(
        units=(
            *units,
            Unit(f"firmware/{project}.cpp", main, local=True),
            Unit(f"{project}_bridge.cpp", f'#include "firmware/{COMMON}"\n' + bridge, local=True),
        ),
        layers=len(units),
    )
    for unit in result.units:
        (tree / unit.name).write_text(unit.text)
    (firmware / COMMON).write_text(common)
    return result, common
